//! `__validate`: the `#[drift(validate(...))]` rules of each field, then
//! `#[drift(validate_with = path)]`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::internals::ast::{Entity, Field, Shape};
use crate::internals::attr::{NumValue, Number, Rule};
use crate::internals::unraw::unraw;

/// The `__validate` method, or nothing when the entity has no rule (the trait's
/// default accepts every value).
pub(crate) fn validate_fn(entity: &Entity<'_>) -> TokenStream {
    let checks: Vec<TokenStream> =
        entity.fields.iter().flat_map(|f| f.attrs.validate.iter().map(move |r| rule_check(f, r))).collect();
    let with = entity.validate_with.as_ref().map(|path| {
        let shown = path_text(path);
        let check = quote_spanned! {path.span()=>
            let __drift_check: fn(&Self, &mut ::drift::__private::ValidationErrors) = #path;
        };
        quote! {
            #check
            ::drift::__private::ValidationErrors::__validate_with(
                __drift_errors,
                #shown,
                |__drift_errors| __drift_check(self, __drift_errors),
            );
        }
    });
    if checks.is_empty() && with.is_none() {
        return TokenStream::new();
    }
    quote! {
        fn __validate(&self, __drift_errors: &mut ::drift::__private::ValidationErrors) {
            #(#checks)*
            #with
        }
    }
}

fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// One rule's check, on `__drift_value` (the field, borrowed), spanned at the rule so
/// that a type error points at it.
fn rule_check(f: &Field<'_>, rule: &Rule) -> TokenStream {
    let ident = f.ident;
    let check = rule_call(f, rule);
    quote! {
        {
            let __drift_value = &self.#ident;
            #check
        }
    }
}

fn rule_call(f: &Field<'_>, rule: &Rule) -> TokenStream {
    let name = unraw(f.ident);
    match rule {
        Rule::Length { span, min, max } => {
            let bound = |b: &Option<(usize, syn::Expr)>| {
                let Some((n, expr)) = b else { return quote!(::core::option::Option::None) };
                let mut lit = Literal::usize_unsuffixed(*n);
                lit.set_span(expr.span());
                quote!(::core::option::Option::Some(#lit))
            };
            let (min, max) = (bound(min), bound(max));
            quote_spanned! {*span=>
                ::drift::__private::validate::length(__drift_errors, #name, __drift_value, #min, #max);
            }
        }
        Rule::Range { span, min, max } => {
            let float = f.shape == Shape::Float;
            let bound = |b: &Option<Number>| {
                let Some(n) = b else { return quote!(::core::option::Option::None) };
                let n = number(n, float);
                quote!(::core::option::Option::Some(#n))
            };
            let (min, max) = (bound(min), bound(max));
            quote_spanned! {*span=>
                ::drift::__private::validate::range(__drift_errors, #name, __drift_value, #min, #max);
            }
        }
        Rule::Email { span } => quote_spanned! {*span=>
            ::drift::__private::validate::email(__drift_errors, #name, __drift_value);
        },
        Rule::Regex { span, pattern } => quote_spanned! {*span=>
            {
                static __DRIFT_REGEX: ::drift::__private::validate::LazyRegex =
                    ::drift::__private::validate::LazyRegex::new(#pattern);
                ::drift::__private::validate::regex(__drift_errors, #name, __drift_value, &__DRIFT_REGEX);
            }
        },
        Rule::Custom { path } => {
            let shown = path_text(path);
            quote_spanned! {path.span()=>
                ::drift::__private::validate::custom(__drift_errors, #name, #shown, #path(__drift_value));
            }
        }
    }
}

/// A bound as written, except that an integer bound of a float field becomes a float
/// literal (so `range(min = 0)` works on an `f64`).
fn number(n: &Number, float: bool) -> TokenStream {
    let NumValue::Int(v) = n.value else {
        return n.expr.to_token_stream();
    };
    if !float {
        return n.expr.to_token_stream();
    }
    let span: Span = n.expr.span();
    #[allow(clippy::cast_precision_loss)]
    let mut lit = Literal::f64_unsuffixed(v.unsigned_abs() as f64);
    lit.set_span(span);
    if v < 0 { quote_spanned!(span=> -#lit) } else { lit.into_token_stream() }
}
