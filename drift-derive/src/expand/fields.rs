//! Field handles (`User::AGE`).

use proc_macro2::TokenStream;
use quote::quote;

use crate::internals::ast::Entity;
use crate::internals::unraw::{handle, unraw};

/// `impl User { pub const AGE: Field<User, u32> = ...; }`
pub(crate) fn handles(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let consts = entity.fields.iter().enumerate().filter(|(_, f)| !f.is_relation()).map(|(pos, f)| {
        let fident = f.ident;
        let ty = f.ty;
        let vis = &f.original.vis;
        let name = unraw(fident);
        let cname = handle(fident);
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
