//! Row encoding: the stored (non-key) fields, in declaration order, with postcard.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::internals::ast::{Entity, Field};

fn data_fields<'e, 'a>(entity: &'e Entity<'a>) -> Vec<&'e Field<'a>> {
    entity.fields.iter().filter(|f| f.attrs.primary_key.is_none() && !f.is_relation()).collect()
}

/// `__DriftRowRef` (borrowing, to encode) and `__DriftRow` (owning, to decode).
pub(crate) fn row_types(entity: &Entity<'_>) -> TokenStream {
    let data = data_fields(entity);
    if data.is_empty() {
        return TokenStream::new();
    }
    let refs = data.iter().map(|f| {
        let (i, t) = (f.ident, f.ty);
        quote_spanned!(t.span()=> #i: &'__drift #t)
    });
    let owned = data.iter().map(|f| {
        let (i, t) = (f.ident, f.ty);
        quote_spanned!(t.span()=> #i: #t)
    });
    quote! {
        #[derive(::drift::__private::serde::Serialize)]
        #[serde(crate = "::drift::__private::serde")]
        struct __DriftRowRef<'__drift> {
            #(#refs,)*
        }

        #[derive(::drift::__private::serde::Deserialize)]
        #[serde(crate = "::drift::__private::serde")]
        struct __DriftRow {
            #(#owned,)*
        }
    }
}

pub(crate) fn encode_row(entity: &Entity<'_>) -> TokenStream {
    let data = data_fields(entity);
    if data.is_empty() {
        return quote! {
            let _ = __drift_out;
            ::core::result::Result::Ok(())
        };
    }
    let idents: Vec<_> = data.iter().map(|f| f.ident).collect();
    quote! {
        ::drift::__private::encode_row(&__DriftRowRef { #(#idents: &self.#idents,)* }, __drift_out)
    }
}

pub(crate) fn decode_row(entity: &Entity<'_>) -> TokenStream {
    let key_decodes = super::key::decode_key_fields(entity);
    let data = data_fields(entity);
    let row_decode = if data.is_empty() {
        quote! {
            if !__drift_row.is_empty() {
                return ::core::result::Result::Err(::std::format!("{} unexpected row bytes", __drift_row.len()));
            }
        }
    } else {
        quote!(let __drift_r: __DriftRow = ::drift::__private::decode_row(__drift_row)?;)
    };
    let inits = entity.fields.iter().map(|f| {
        let i = f.ident;
        if f.attrs.primary_key.is_some() {
            quote!(#i)
        } else if f.is_relation() {
            quote!(#i: ::core::default::Default::default())
        } else {
            quote!(#i: __drift_r.#i)
        }
    });
    quote! {
        let mut __drift_k: &[u8] = __drift_key;
        #key_decodes
        if !__drift_k.is_empty() {
            return ::core::result::Result::Err(::std::format!("{} bytes left over after the key", __drift_k.len()));
        }
        #row_decode
        ::core::result::Result::Ok(Self { #(#inits,)* })
    }
}
