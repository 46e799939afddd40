//! Raw identifiers (`r#type`) stand for the name without `r#`: the field `r#type` is
//! `type` in the schema, in messages and in an index's default name, its handle is
//! `TYPE`, and `fields(r#type)` names the same field as `fields(type)` would. Every
//! identifier that becomes a string, or is compared, goes through here
//! (thiserror-impl's `unraw.rs`).

use proc_macro2::Ident;
use quote::format_ident;
use syn::ext::IdentExt as _;

/// The name `ident` stands for: `type` for `r#type`.
pub(crate) fn unraw(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// Whether two identifiers name the same thing (`r#ty` and `ty` do).
pub(crate) fn same(a: &Ident, b: &Ident) -> bool {
    a.unraw() == b.unraw()
}

/// The names joined by `sep`: `a,b` for the fields `a`, `r#b`.
pub(crate) fn join<'a>(idents: impl IntoIterator<Item = &'a Ident>, sep: &str) -> String {
    idents.into_iter().map(unraw).collect::<Vec<_>>().join(sep)
}

/// The handle const of a field or relation: `TYPE` for `r#type`, at its span.
pub(crate) fn handle(ident: &Ident) -> Ident {
    format_ident!("{}", unraw(ident).to_uppercase(), span = ident.span())
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;
    use syn::Ident;

    #[test]
    fn raw_identifiers_stand_for_their_name() {
        let raw = Ident::new_raw("type", Span::call_site());
        let plain = Ident::new("ty", Span::call_site());
        assert_eq!(super::unraw(&raw), "type");
        assert_eq!(super::handle(&raw), "TYPE");
        assert_eq!(super::join([&raw, &plain], ","), "type,ty");
        assert!(super::same(&Ident::new_raw("ty", Span::call_site()), &plain));
        assert!(!super::same(&raw, &plain));
    }
}
