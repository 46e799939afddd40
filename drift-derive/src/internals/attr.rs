//! Parsing `#[drift(...)]` attributes into plain values, reporting every bad,
//! unknown or duplicate attribute on its own tokens.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitStr, Token};

use super::ctxt::Ctxt;
use super::symbol::{AUTO_INCREMENT, DRIFT, FIELDS, INDEX, NAME, PRIMARY_KEY, Symbol, TABLE, UNIQUE, VERSION};

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
}

/// Attributes on a field.
pub(crate) struct FieldAttrs {
    pub(crate) primary_key: Option<Span>,
    pub(crate) auto_increment: Option<Span>,
    pub(crate) unique: Option<Span>,
    pub(crate) index: Option<Span>,
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

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> Container {
        let mut table = Attr::none(cx, TABLE);
        let mut version = Attr::none(cx, VERSION);
        let mut indexes = Vec::new();
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
                } else {
                    unknown(cx, &meta, "struct", "`table = \"...\"`, `version = N`, `index(fields(...))`");
                    take_rest(&meta)?;
                }
                Ok(())
            });
            if let Err(e) = parsed {
                cx.syn_error(e);
            }
        }
        Container { table: table.get().map(|(v, _)| v), version: version.get().map(|(v, _)| v), indexes }
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
            Some(id) if list.contains(id) => {
                cx.error_spanned_by(id, format!("field `{id}` appears twice in `fields(...)`: list each field once"));
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
                } else if meta.path == TABLE || meta.path == VERSION {
                    let path = &meta.path;
                    let rest = take_rest(&meta)?;
                    cx.error_spanned_by(
                        quote!(#path #rest),
                        format!("`#[drift({} = ...)]` belongs on the struct, not on a field", path.to_token_stream()),
                    );
                } else {
                    unknown(cx, &meta, "field", "`primary_key`, `auto_increment`, `unique`, `index`");
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
        }
    }
}
