//! Parsing `#[drift(...)]` attributes into plain values, reporting every bad,
//! unknown or duplicate attribute on its own tokens.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Token};

use super::ctxt::Ctxt;
use super::symbol::{
    AUTO_INCREMENT, CUSTOM, DEFAULT, DRIFT, EMAIL, FIELDS, INDEX, LENGTH, MAX, MIN, NAME, PRIMARY_KEY, RANGE, REGEX,
    RENAMED_FROM, Symbol, TABLE, UNIQUE, VALIDATE, VALIDATE_WITH, VERSION,
};
use super::unraw::{same, unraw};

/// A value that may be set at most once (`serde_derive`'s `Attr`).
pub(crate) struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    tokens: TokenStream,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr { cx, name, tokens: TokenStream::new(), value: None }
    }

    fn set<A: ToTokens>(&mut self, obj: A, value: T) {
        let tokens = obj.into_token_stream();
        if self.value.is_some() {
            self.cx.error_spanned_by(tokens, format!("duplicate `#[drift({})]` attribute", self.name));
        } else {
            self.tokens = tokens;
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<(T, TokenStream)> {
        self.value.map(|v| (v, self.tokens))
    }
}

/// A flag attribute such as `#[drift(unique)]`: its span when present.
fn flag(attr: Attr<'_, ()>) -> Option<Span> {
    attr.get().map(|((), tokens)| tokens.into_iter().next().map_or_else(Span::call_site, |t| t.span()))
}

/// `#[drift(index(...))]` on the struct, well formed: `fields` names at least one
/// field, each once.
pub(crate) struct IndexAttr {
    pub(crate) name: Option<LitStr>,
    pub(crate) fields: Vec<Ident>,
    pub(crate) unique: bool,
    pub(crate) span: Span,
}

/// Attributes on the struct.
pub(crate) struct Container {
    pub(crate) table: Option<LitStr>,
    pub(crate) version: Option<(u32, Span)>,
    pub(crate) indexes: Vec<IndexAttr>,
    pub(crate) validate_with: Option<syn::Path>,
    pub(crate) renamed_from: Option<RenamedFrom>,
}

/// `#[drift(renamed_from = "old")]`: a name the struct or field had in an earlier
/// schema, well formed (an identifier, without `r#`).
pub(crate) struct RenamedFrom {
    pub(crate) name: String,
    pub(crate) lit: LitStr,
    /// The `renamed_from` keyword.
    pub(crate) span: Span,
}

/// `#[drift(default = expr)]` on a field: the value a migration gives the field in
/// rows stored without it.
pub(crate) struct DefaultAttr {
    pub(crate) expr: Expr,
    /// The `default` keyword.
    pub(crate) span: Span,
}

/// Attributes on a field.
pub(crate) struct FieldAttrs {
    pub(crate) primary_key: Option<Span>,
    pub(crate) auto_increment: Option<Span>,
    pub(crate) unique: Option<Span>,
    pub(crate) index: Option<Span>,
    pub(crate) validate: Vec<Rule>,
    pub(crate) relation: Option<super::relation::RelationAttr>,
    pub(crate) renamed_from: Option<RenamedFrom>,
    pub(crate) default: Option<DefaultAttr>,
}

/// A number literal in a `range` bound, maybe negated.
pub(crate) struct Number {
    pub(crate) expr: Expr,
    pub(crate) value: NumValue,
}

#[derive(Clone, Copy, PartialEq, PartialOrd)]
pub(crate) enum NumValue {
    Int(i128),
    Float(f64),
}

impl NumValue {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            #[allow(clippy::cast_precision_loss)]
            NumValue::Int(i) => i as f64,
            NumValue::Float(f) => f,
        }
    }
}

/// One rule of `#[drift(validate(...))]`, well formed; `span` is its keyword.
pub(crate) enum Rule {
    Length { span: Span, min: Option<(usize, Expr)>, max: Option<(usize, Expr)> },
    Range { span: Span, min: Option<Number>, max: Option<Number> },
    Email { span: Span },
    Regex { span: Span, pattern: LitStr },
    Custom { path: syn::Path },
}

impl Rule {
    pub(crate) fn keyword(&self) -> Symbol {
        match self {
            Rule::Length { .. } => LENGTH,
            Rule::Range { .. } => RANGE,
            Rule::Email { .. } => EMAIL,
            Rule::Regex { .. } => REGEX,
            Rule::Custom { .. } => CUSTOM,
        }
    }
}

fn unknown(cx: &Ctxt, meta: &ParseNestedMeta<'_>, place: &str, expected: &str) {
    let path = meta.path.to_token_stream().to_string().replace(' ', "");
    cx.error_spanned_by(&meta.path, format!("unknown {place} attribute `{path}`; expected one of {expected}"));
}

/// Consumes whatever follows an attribute name (`= value` or `(...)`) and returns it,
/// so that an error can span it and parsing can go on after the error.
fn take_rest(meta: &ParseNestedMeta<'_>) -> syn::Result<TokenStream> {
    if meta.input.peek(Token![=]) {
        let eq: Token![=] = meta.input.parse()?;
        let value: Expr = meta.input.parse()?;
        Ok(quote!(#eq #value))
    } else if meta.input.peek(syn::token::Paren) {
        Ok(meta.input.parse::<TokenTree>()?.into_token_stream())
    } else {
        Ok(TokenStream::new())
    }
}

/// A flag such as `unique`: reports a value or argument list after it, which flags
/// do not take, instead of letting syn fail with "expected `,`". The flag is set
/// either way, so that the mistake does not cascade into other errors.
fn parse_flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, attr: &mut Attr<'_, ()>) -> syn::Result<()> {
    let rest = take_rest(meta)?;
    if !rest.is_empty() {
        let path = &meta.path;
        cx.error_spanned_by(quote!(#path #rest), format!("`{0}` takes no value; write `#[drift({0})]`", attr.name));
    }
    attr.set(&meta.path, ());
    Ok(())
}

/// The string literal after `name =`; an error naming `form` on anything else.
fn parse_lit_str(cx: &Ctxt, meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Option<LitStr>> {
    match meta.value()?.parse::<Expr>()? {
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Ok(Some(s)),
        other => {
            cx.error_spanned_by(other, format!("expected a string literal, as in `#[drift({form})]`"));
            Ok(None)
        }
    }
}

/// `renamed_from = "old"`: the literal must hold an identifier (`old_name`, `r#type`);
/// `None` after reporting anything else.
fn parse_renamed_from(cx: &Ctxt, meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Option<RenamedFrom>> {
    let span = meta.path.span();
    let Some(lit) = parse_lit_str(cx, meta, form)? else { return Ok(None) };
    let value = lit.value();
    match Ident::parse_any.parse_str(&value) {
        Ok(ident) if ident != "_" && ident == value => Ok(Some(RenamedFrom { name: unraw(&ident), lit, span })),
        _ => {
            cx.error_spanned_by(
                &lit,
                format!("`renamed_from` takes the old name, an identifier, as in `#[drift({form})]`; found {value:?}"),
            );
            Ok(None)
        }
    }
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> Container {
        let mut table = Attr::none(cx, TABLE);
        let mut version = Attr::none(cx, VERSION);
        let mut indexes = Vec::new();
        let mut validate_with = Attr::none(cx, VALIDATE_WITH);
        let mut renamed_from = Attr::none(cx, RENAMED_FROM);
        for attr in &input.attrs {
            if attr.path() != DRIFT {
                continue;
            }
            if let syn::Meta::Path(_) = attr.meta {
                cx.error_spanned_by(
                    attr,
                    "expected `#[drift(...)]` with arguments, such as `#[drift(table = \"users\")]`",
                );
                continue;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == TABLE {
                    if let Some(s) = parse_lit_str(cx, &meta, "table = \"users\"")? {
                        table.set(&meta.path, s);
                    }
                } else if meta.path == VERSION {
                    let value: Expr = meta.value()?.parse()?;
                    let parsed = match &value {
                        Expr::Lit(syn::ExprLit { lit: Lit::Int(lit), .. }) => {
                            lit.base10_parse::<u32>().ok().filter(|&v| v > 0)
                        }
                        _ => None,
                    };
                    match parsed {
                        Some(v) => version.set(&meta.path, (v, value.span())),
                        None => cx.error_spanned_by(
                            &value,
                            "expected `#[drift(version = N)]` with N an integer from 1 to 4294967295",
                        ),
                    }
                } else if meta.path == INDEX {
                    if let Some(index) = parse_index(cx, &meta)? {
                        indexes.push(index);
                    }
                } else if meta.path == VALIDATE_WITH {
                    if let Some(path) = parse_fn_path(cx, &meta, "validate_with = check_entity")? {
                        validate_with.set(&meta.path, path);
                    }
                } else if meta.path == RENAMED_FROM {
                    if let Some(r) = parse_renamed_from(cx, &meta, "renamed_from = \"OldName\"")? {
                        renamed_from.set(&meta.path, r);
                    }
                } else if meta.path == VALIDATE {
                    let path = &meta.path;
                    let rest = take_rest(&meta)?;
                    cx.error_spanned_by(
                        quote!(#path #rest),
                        "`#[drift(validate(...))]` belongs on a field; on the struct write `#[drift(validate_with = path)]`",
                    );
                } else if meta.path == DEFAULT {
                    let path = &meta.path;
                    let rest = take_rest(&meta)?;
                    cx.error_spanned_by(
                        quote!(#path #rest),
                        "`#[drift(default = ...)]` belongs on a field: the value a migration gives it in older rows",
                    );
                } else {
                    unknown(
                        cx,
                        &meta,
                        "struct",
                        "`table = \"...\"`, `version = N`, `index(fields(...))`, `validate_with = path`, `renamed_from = \"...\"`",
                    );
                    take_rest(&meta)?;
                }
                Ok(())
            });
            if let Err(e) = parsed {
                cx.syn_error(e);
            }
        }
        Container {
            table: table.get().map(|(v, _)| v),
            version: version.get().map(|(v, _)| v),
            indexes,
            validate_with: validate_with.get().map(|(v, _)| v),
            renamed_from: renamed_from.get().map(|(v, _)| v),
        }
    }
}

/// `index(...)` on the struct; `None` when it was malformed (the error is reported).
fn parse_index(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<IndexAttr>> {
    let span = meta.path.get_ident().map_or_else(Span::call_site, Ident::span);
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            "expected `#[drift(index(fields(a, b)))]` on the struct; on a field write `#[drift(index)]`",
        );
        return Ok(None);
    }
    let args = meta.input.fork().parse::<TokenTree>()?;
    let mut name = Attr::none(cx, NAME);
    let mut fields: Attr<'_, Vec<Ident>> = Attr::none(cx, FIELDS);
    let mut unique = Attr::none(cx, UNIQUE);
    let mut valid = true;
    meta.parse_nested_meta(|inner| {
        if inner.path == NAME {
            match parse_lit_str(cx, &inner, "index(name = \"by_a_b\", fields(a, b))")? {
                Some(s) => name.set(&inner.path, s),
                None => valid = false,
            }
        } else if inner.path == FIELDS {
            match parse_field_list(cx, &inner)? {
                Some(list) => fields.set(&inner.path, list),
                None => valid = false,
            }
        } else if inner.path == UNIQUE {
            parse_flag(cx, &inner, &mut unique)?;
        } else {
            unknown(cx, &inner, "index", "`fields(...)`, `name = \"...\"`, `unique`");
            take_rest(&inner)?;
            valid = false;
        }
        Ok(())
    })?;
    let Some((fields, _)) = fields.get() else {
        if valid {
            let path = &meta.path;
            cx.error_spanned_by(
                quote!(#path #args),
                "expected `fields(...)` in `#[drift(index(...))]`, such as `#[drift(index(fields(a, b)))]`",
            );
        }
        return Ok(None);
    };
    if !valid {
        return Ok(None);
    }
    Ok(Some(IndexAttr { name: name.get().map(|(v, _)| v), fields, unique: flag(unique).is_some(), span }))
}

/// `fields(a, b)`: the named fields, each once and at least one; `None` when the list
/// is malformed (the error is reported).
fn parse_field_list(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Vec<Ident>>> {
    let path = &meta.path;
    let rest = take_rest(meta)?;
    let Some(TokenTree::Group(group)) = rest.clone().into_iter().next() else {
        cx.error_spanned_by(quote!(#path #rest), "expected `fields(a, b)` naming the indexed fields in order");
        return Ok(None);
    };
    let exprs = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(group.stream())?;
    if exprs.is_empty() {
        cx.error_spanned_by(
            quote!(#path #group),
            "expected at least one field in `fields(...)`, such as `#[drift(index(fields(a, b)))]`",
        );
        return Ok(None);
    }
    let mut list: Vec<Ident> = Vec::with_capacity(exprs.len());
    let mut valid = true;
    for expr in &exprs {
        let ident = match expr {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
            _ => None,
        };
        match ident {
            Some(id) if list.iter().any(|listed| same(listed, id)) => {
                cx.error_spanned_by(
                    id,
                    format!("field `{}` appears twice in `fields(...)`: list each field once", unraw(id)),
                );
                valid = false;
            }
            Some(id) => list.push(id.clone()),
            None => {
                let found = expr.to_token_stream().to_string().replace(' ', "");
                cx.error_spanned_by(expr, format!("expected a field name in `fields(...)`, found `{found}`"));
                valid = false;
            }
        }
    }
    Ok(valid.then_some(list))
}

impl FieldAttrs {
    pub(crate) fn from_ast(cx: &Ctxt, field: &syn::Field) -> FieldAttrs {
        let mut primary_key = Attr::none(cx, PRIMARY_KEY);
        let mut auto_increment = Attr::none(cx, AUTO_INCREMENT);
        let mut unique = Attr::none(cx, UNIQUE);
        let mut index = Attr::none(cx, INDEX);
        let mut validate = Vec::new();
        let mut relation: Option<super::relation::RelationAttr> = None;
        let mut renamed_from = Attr::none(cx, RENAMED_FROM);
        let mut default = Attr::none(cx, DEFAULT);
        for attr in &field.attrs {
            if attr.path() != DRIFT {
                continue;
            }
            if let syn::Meta::Path(_) = attr.meta {
                cx.error_spanned_by(attr, "expected `#[drift(...)]` with arguments, such as `#[drift(primary_key)]`");
                continue;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == PRIMARY_KEY {
                    parse_flag(cx, &meta, &mut primary_key)?;
                } else if meta.path == AUTO_INCREMENT {
                    parse_flag(cx, &meta, &mut auto_increment)?;
                } else if meta.path == UNIQUE {
                    parse_flag(cx, &meta, &mut unique)?;
                } else if meta.path == INDEX {
                    if meta.input.peek(syn::token::Paren) {
                        let path = &meta.path;
                        let args = take_rest(&meta)?;
                        cx.error_spanned_by(
                            quote!(#path #args),
                            "`#[drift(index(...))]` belongs on the struct; on a field write `#[drift(index)]`",
                        );
                    } else {
                        parse_flag(cx, &meta, &mut index)?;
                    }
                } else if let Some(kind) = super::relation::RelKind::from_meta(&meta) {
                    let parsed = super::relation::parse(cx, &meta, kind)?;
                    if relation.is_some() {
                        cx.error_spanned_by(&meta.path, "a field holds one relation: remove the second relation attribute");
                    } else {
                        relation = parsed;
                    }
                } else if meta.path == VALIDATE {
                    parse_validate(cx, &meta, &mut validate)?;
                } else if meta.path == RENAMED_FROM {
                    if let Some(r) = parse_renamed_from(cx, &meta, "renamed_from = \"old_name\"")? {
                        renamed_from.set(&meta.path, r);
                    }
                } else if meta.path == DEFAULT {
                    let span = meta.path.span();
                    let expr: Expr = meta.value()?.parse()?;
                    default.set(&meta.path, DefaultAttr { expr, span });
                } else if meta.path == VALIDATE_WITH {
                    let path = &meta.path;
                    let rest = take_rest(&meta)?;
                    cx.error_spanned_by(
                        quote!(#path #rest),
                        "`#[drift(validate_with = ...)]` belongs on the struct; on a field write `#[drift(validate(custom = path))]`",
                    );
                } else if meta.path == TABLE || meta.path == VERSION {
                    let path = &meta.path;
                    let rest = take_rest(&meta)?;
                    cx.error_spanned_by(
                        quote!(#path #rest),
                        format!("`#[drift({} = ...)]` belongs on the struct, not on a field", path.to_token_stream()),
                    );
                } else {
                    unknown(
                        cx,
                        &meta,
                        "field",
                        "`primary_key`, `auto_increment`, `unique`, `index`, `validate(...)`, `belongs_to(...)`, `has_many(...)`, `has_one(...)`, `many_to_many(...)`, `renamed_from = \"...\"`, `default = expr`",
                    );
                    take_rest(&meta)?;
                }
                Ok(())
            });
            if let Err(e) = parsed {
                cx.syn_error(e);
            }
        }
        FieldAttrs {
            primary_key: flag(primary_key),
            auto_increment: flag(auto_increment),
            unique: flag(unique),
            index: flag(index),
            validate,
            relation,
            renamed_from: renamed_from.get().map(|(v, _)| v),
            default: default.get().map(|(v, _)| v),
        }
    }
}

const RULES: &str =
    "`length(min = .., max = ..)`, `range(min = .., max = ..)`, `email`, `regex = \"...\"`, `custom = path`";

/// `validate(...)` on a field: appends its rules to `rules`, reporting malformed ones.
fn parse_validate(cx: &Ctxt, meta: &ParseNestedMeta<'_>, rules: &mut Vec<Rule>) -> syn::Result<()> {
    let path = &meta.path;
    if !meta.input.peek(syn::token::Paren) {
        let rest = take_rest(meta)?;
        cx.error_spanned_by(
            quote!(#path #rest),
            "expected `#[drift(validate(...))]` with rules, such as `#[drift(validate(length(max = 64), email))]`",
        );
        return Ok(());
    }
    if let TokenTree::Group(g) = meta.input.fork().parse::<TokenTree>()? {
        if g.stream().is_empty() {
            cx.error_spanned_by(quote!(#path #g), format!("expected at least one rule in `validate(...)`: {RULES}"));
            take_rest(meta)?;
            return Ok(());
        }
    }
    meta.parse_nested_meta(|inner| {
        let span = inner.path.span();
        let rule = if inner.path == LENGTH {
            parse_bounds(cx, &inner, LENGTH)?.and_then(|(min, max)| {
                let min = min.map(|e| parse_usize(cx, e)).transpose().ok()?;
                let max = max.map(|e| parse_usize(cx, e)).transpose().ok()?;
                Some(Rule::Length { span, min, max })
            })
        } else if inner.path == RANGE {
            parse_bounds(cx, &inner, RANGE)?.and_then(|(min, max)| {
                let min = min.map(|e| parse_number(cx, e)).transpose().ok()?;
                let max = max.map(|e| parse_number(cx, e)).transpose().ok()?;
                Some(Rule::Range { span, min, max })
            })
        } else if inner.path == EMAIL {
            let rest = take_rest(&inner)?;
            if rest.is_empty() {
                Some(Rule::Email { span })
            } else {
                let p = &inner.path;
                cx.error_spanned_by(quote!(#p #rest), "`email` takes no value; write `#[drift(validate(email))]`");
                None
            }
        } else if inner.path == REGEX {
            parse_lit_str(cx, &inner, "validate(regex = \"^[a-z]+$\")")?.map(|pattern| Rule::Regex { span, pattern })
        } else if inner.path == CUSTOM {
            parse_fn_path(cx, &inner, "validate(custom = check_name)")?.map(|path| Rule::Custom { path })
        } else {
            let found = inner.path.to_token_stream().to_string().replace(' ', "");
            cx.error_spanned_by(&inner.path, format!("unknown validation rule `{found}`; expected one of {RULES}"));
            take_rest(&inner)?;
            None
        };
        if let Some(rule) = rule {
            let kw = rule.keyword();
            if !matches!(rule, Rule::Custom { .. }) && rules.iter().any(|r| r.keyword() == kw) {
                cx.error_spanned_by(&inner.path, format!("duplicate `{kw}` rule: give each rule once per field"));
            } else {
                rules.push(rule);
            }
        }
        Ok(())
    })
}

/// `length(min = .., max = ..)` or `range(...)`: the bound expressions, each at most
/// once and at least one; `None` when malformed (the error is reported).
#[allow(clippy::type_complexity)]
fn parse_bounds(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    rule: Symbol,
) -> syn::Result<Option<(Option<Expr>, Option<Expr>)>> {
    let path = &meta.path;
    let form = format!("expected `{rule}(min = .., max = ..)` with one bound or both");
    if !meta.input.peek(syn::token::Paren) {
        let rest = take_rest(meta)?;
        cx.error_spanned_by(quote!(#path #rest), form);
        return Ok(None);
    }
    let args = meta.input.fork().parse::<TokenTree>()?;
    let (mut min, mut max) = (None, None);
    let mut valid = true;
    meta.parse_nested_meta(|b| {
        let slot = if b.path == MIN {
            &mut min
        } else if b.path == MAX {
            &mut max
        } else {
            let found = b.path.to_token_stream().to_string().replace(' ', "");
            cx.error_spanned_by(
                &b.path,
                format!("unknown bound `{found}` in `{rule}(...)`; expected `min = ..` or `max = ..`"),
            );
            take_rest(&b)?;
            valid = false;
            return Ok(());
        };
        let value: Expr = b.value()?.parse()?;
        if slot.is_some() {
            cx.error_spanned_by(&b.path, format!("duplicate `{}` in `{rule}(...)`", b.path.to_token_stream()));
            valid = false;
        } else {
            *slot = Some(value);
        }
        Ok(())
    })?;
    if valid && min.is_none() && max.is_none() {
        cx.error_spanned_by(quote!(#path #args), form);
        return Ok(None);
    }
    Ok(valid.then_some((min, max)))
}

/// A `length` bound: a non-negative integer literal. `Err` after reporting.
fn parse_usize(cx: &Ctxt, expr: Expr) -> Result<(usize, Expr), ()> {
    if let Expr::Lit(syn::ExprLit { lit: Lit::Int(lit), .. }) = &expr {
        if let Ok(n) = lit.base10_parse::<usize>() {
            return Ok((n, expr));
        }
    }
    cx.error_spanned_by(&expr, "expected a non-negative integer, as in `length(min = 1, max = 64)`");
    Err(())
}

/// A `range` bound: an integer or float literal, maybe negated. `Err` after reporting.
fn parse_number(cx: &Ctxt, expr: Expr) -> Result<Number, ()> {
    let literal = match &expr {
        Expr::Lit(syn::ExprLit { lit, .. }) => Some((false, lit)),
        Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr: inner, .. }) => {
            if let Expr::Lit(syn::ExprLit { lit, .. }) = &**inner { Some((true, lit)) } else { None }
        }
        _ => None,
    };
    let Some((negative, lit)) = literal else {
        cx.error_spanned_by(&expr, "expected a number literal, as in `range(min = -10, max = 150)`");
        return Err(());
    };
    let value = match lit {
        Lit::Int(i) => i.base10_parse::<i128>().ok().map(|v| NumValue::Int(if negative { -v } else { v })),
        Lit::Float(f) => f
            .base10_parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| NumValue::Float(if negative { -v } else { v })),
        _ => None,
    };
    if let Some(value) = value {
        return Ok(Number { expr, value });
    }
    cx.error_spanned_by(
        &expr,
        "expected a finite number literal within 128-bit integers, as in `range(min = -10, max = 150)`",
    );
    Err(())
}

/// The function path after `custom =` or `validate_with =`; an error naming `form`
/// on anything else.
fn parse_fn_path(cx: &Ctxt, meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Option<syn::Path>> {
    match meta.value()?.parse::<Expr>()? {
        Expr::Path(p) if p.qself.is_none() => Ok(Some(p.path)),
        other => {
            cx.error_spanned_by(other, format!("expected a function path, as in `#[drift({form})]`"));
            Ok(None)
        }
    }
}
