//! Field handles (`User::AGE`) and type assertions spanned at each field.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::internals::ast::Entity;

/// `impl User { pub const AGE: Field<User, u32> = ...; }`
pub(crate) fn handles(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let consts = entity.fields.iter().enumerate().filter(|(_, f)| !f.is_relation()).map(|(pos, f)| {
        let fident = f.ident;
        let ty = f.ty;
        let vis = &f.original.vis;
        let name = fident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_string();
        let cname = format_ident!("{}", name.to_uppercase(), span = fident.span());
        let doc = format!("Handle on the `{name}` field, for filters and ordering.");
        quote! {
            #[doc = #doc]
            #vis const #cname: ::drift::__private::Field<#ident, #ty> =
                ::drift::__private::Field::__new(#pos, #name, |__drift_e: &#ident| &__drift_e.#fident);
        }
    });
    quote! {
        #[automatically_derived]
        impl #ident {
            #(#consts)*
        }
    }
}

/// Key and index fields must have a key encoding: checked by trait bounds so that
/// the error points at the field's type.
pub(crate) fn assertions(entity: &Entity<'_>) -> TokenStream {
    let mut keyed: Vec<usize> = entity.key_fields();
    for idx in &entity.indexes {
        for &p in &idx.fields {
            if !keyed.contains(&p) {
                keyed.push(p);
            }
        }
    }
    let checks = keyed.iter().map(|&p| {
        let ty = entity.fields[p].ty;
        quote_spanned! {ty.span()=>
            __drift_assert_key::<#ty>();
        }
    });
    quote! {
        fn __drift_assert_key<__K: ::drift::__private::KeyCodec + ::core::fmt::Debug + ::core::clone::Clone>() {}
        #[allow(dead_code)]
        fn __drift_assert_keys() {
            #(#checks)*
        }
    }
}
