//! The primary key and index encoders.
//!
//! A key or index field's type is used as a `KeyCodec` only as `<T as KeyCodec>::…`,
//! spanned at the field's type, so that a type without a key encoding is one error, at
//! the field: rustc reports identical errors once. A single-field key is used through
//! `Self::Key` instead (the `__drift_key_*` functions, generic over the entity), where
//! the bound on `Entity::Key` reports it, also once.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::internals::ast::Entity;
use crate::internals::unraw::unraw;

/// `<T as ::drift::__private::KeyCodec>`, at the span of `T`.
fn codec(ty: &syn::Type) -> TokenStream {
    quote_spanned!(ty.span()=> <#ty as ::drift::__private::KeyCodec>)
}

/// The position of the key field when the key is one field.
fn single_key(entity: &Entity<'_>) -> Option<usize> {
    match entity.key_fields().as_slice() {
        [p] => Some(*p),
        _ => None,
    }
}

/// Encodes the field at `p`, read as `&self.field`, onto `__drift_out`: a
/// `Result<(), KeyError>`.
fn encode_field(entity: &Entity<'_>, p: usize, out: &TokenStream) -> TokenStream {
    let f = &entity.fields[p];
    let i = f.ident;
    if single_key(entity) == Some(p) {
        quote!(__drift_key_encode::<Self>(&self.#i, #out))
    } else {
        let codec = codec(f.ty);
        quote!(#codec::encode_key(&self.#i, #out))
    }
}

/// Decodes the field at `p` from the front of `__drift_in`: a `Result<T, KeyError>`.
fn decode_field(entity: &Entity<'_>, p: usize, input: &TokenStream) -> TokenStream {
    if single_key(entity) == Some(p) {
        quote!(__drift_key_decode::<Self>(#input))
    } else {
        let codec = codec(entity.fields[p].ty);
        quote!(#codec::decode_key(#input))
    }
}

/// The `__drift_key_*` functions, for a single-field key: its operations through
/// `E::Key`, whose bounds `Entity` states.
pub(crate) fn key_fns(entity: &Entity<'_>) -> TokenStream {
    if single_key(entity).is_none() {
        return TokenStream::new();
    }
    quote! {
        fn __drift_key_encode<__E: ::drift::__private::Entity>(
            __drift_key: &__E::Key,
            __drift_out: &mut ::std::vec::Vec<u8>,
        ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
            <__E::Key as ::drift::__private::KeyCodec>::encode_key(__drift_key, __drift_out)
        }

        fn __drift_key_decode<__E: ::drift::__private::Entity>(
            __drift_in: &mut &[u8],
        ) -> ::core::result::Result<__E::Key, ::drift::__private::KeyError> {
            <__E::Key as ::drift::__private::KeyCodec>::decode_key(__drift_in)
        }

        fn __drift_key_clone<__E: ::drift::__private::Entity>(__drift_key: &__E::Key) -> __E::Key {
            <__E::Key as ::core::clone::Clone>::clone(__drift_key)
        }
    }
}

pub(crate) fn key_items(entity: &Entity<'_>) -> TokenStream {
    let keys = entity.key_fields();
    let out = quote!(__drift_out);
    let (key_ty, key_expr) = if let [p] = keys.as_slice() {
        let f = &entity.fields[*p];
        let (i, t) = (f.ident, f.ty);
        (quote!(#t), quote!(__drift_key_clone::<Self>(&self.#i)))
    } else {
        let idents = keys.iter().map(|&p| entity.fields[p].ident);
        let tys: Vec<_> = keys.iter().map(|&p| entity.fields[p].ty).collect();
        (quote!((#(#tys,)*)), quote!((#(<#tys as ::core::clone::Clone>::clone(&self.#idents),)*)))
    };
    let encodes = keys.iter().map(|&p| encode_field(entity, p, &out));
    let auto = if entity.auto_increment() {
        let i = entity.fields[keys[0]].ident;
        quote! {
            fn __auto_key(&self) -> ::core::option::Option<u64> {
                ::core::option::Option::Some(self.#i)
            }
            fn __set_auto_key(&mut self, __drift_key: u64) {
                self.#i = __drift_key;
            }
        }
    } else {
        TokenStream::new()
    };
    // `key` returns the key type by name: `Self::Key` would repeat an error of the
    // impl (a struct without `Clone`) at the signature.
    quote! {
        type Key = #key_ty;

        fn key(&self) -> #key_ty {
            #key_expr
        }

        fn __encode_key(
            &self,
            __drift_out: &mut ::std::vec::Vec<u8>,
        ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
            #(#encodes?;)*
            ::core::result::Result::Ok(())
        }

        #auto
    }
}

/// `let field: T = ...?;` for each key field, from `__drift_k`, in a function returning
/// `Result<_, String>`.
pub(crate) fn decode_key_fields(entity: &Entity<'_>) -> TokenStream {
    let input = quote!(&mut __drift_k);
    let decodes = entity.key_fields().into_iter().map(|p| {
        let (i, t) = (entity.fields[p].ident, entity.fields[p].ty);
        let decode = decode_field(entity, p, &input);
        quote! {
            let #i: #t = #decode.map_err(|__drift_e| ::std::string::ToString::to_string(&__drift_e))?;
        }
    });
    quote!(#(#decodes)*)
}

pub(crate) fn index_items(entity: &Entity<'_>) -> TokenStream {
    let out = quote!(__drift_out);
    let input = quote!(__drift_in);
    let arms = entity.indexes.iter().enumerate().map(|(i, idx)| {
        let encodes = idx.fields.iter().map(|&p| encode_field(entity, p, &out));
        quote! {
            #i => {
                #(#encodes?;)*
                ::core::result::Result::Ok(())
            }
        }
    });
    let skips = entity.indexes.iter().enumerate().map(|(i, idx)| {
        let decodes = idx.fields.iter().map(|&p| decode_field(entity, p, &input));
        quote! {
            #i => {
                #(#decodes?;)*
                ::core::result::Result::Ok(())
            }
        }
    });
    let mut keyed: Vec<usize> = entity.key_fields();
    for idx in &entity.indexes {
        for &p in &idx.fields {
            if !keyed.contains(&p) {
                keyed.push(p);
            }
        }
    }
    let field_skips = keyed.iter().map(|&p| {
        let decode = decode_field(entity, p, &input);
        quote!(#p => #decode.map(|_| ()),)
    });
    let describes = entity.indexes.iter().enumerate().map(|(i, idx)| {
        // `as &dyn Debug` at the field's type: a type without `Debug` is one error there.
        let values: Vec<TokenStream> = idx
            .fields
            .iter()
            .map(|&p| {
                let (f, ty) = (entity.fields[p].ident, entity.fields[p].ty);
                quote_spanned!(ty.span()=> &self.#f as &dyn ::core::fmt::Debug)
            })
            .collect();
        if let [value] = values.as_slice() {
            quote!(#i => ::std::format!("{:?}", #value),)
        } else {
            quote!(#i => ::std::format!("{:?}", (#(#values,)*)),)
        }
    });
    quote! {
        fn __encode_index(
            &self,
            __drift_index: usize,
            __drift_out: &mut ::std::vec::Vec<u8>,
        ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
            match __drift_index {
                #(#arms)*
                _ => ::core::result::Result::Ok(()),
            }
        }

        fn __skip_index(
            __drift_index: usize,
            __drift_in: &mut &[u8],
        ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
            match __drift_index {
                #(#skips)*
                _ => ::core::result::Result::Ok(()),
            }
        }

        fn __skip_field(
            __drift_position: usize,
            __drift_in: &mut &[u8],
        ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
            match __drift_position {
                #(#field_skips)*
                _ => ::core::result::Result::Err(::drift::__private::KeyError::Invalid {
                    ty: "field",
                    reason: "the field has no key encoding",
                }),
            }
        }

        fn __describe_index(&self, __drift_index: usize) -> ::std::string::String {
            match __drift_index {
                #(#describes)*
                _ => ::std::string::String::new(),
            }
        }
    }
}

/// `__failing_key_field`: after an encoding failed, the first key (`None`) or index
/// field whose value has no key encoding, found by encoding each on its own.
pub(crate) fn failing_key_field(entity: &Entity<'_>) -> TokenStream {
    let out = quote!(&mut __drift_buf);
    let probe = |positions: &[usize]| {
        let probes = positions.iter().map(|&p| {
            let name = unraw(entity.fields[p].ident);
            let encode = encode_field(entity, p, &out);
            quote! {
                __drift_buf.clear();
                if #encode.is_err() {
                    return ::core::option::Option::Some(#name);
                }
            }
        });
        quote!(#(#probes)*)
    };
    let key = probe(&entity.key_fields());
    let arms = entity.indexes.iter().enumerate().map(|(i, idx)| {
        let body = probe(&idx.fields);
        quote!(::core::option::Option::Some(#i) => { #body })
    });
    quote! {
        fn __failing_key_field(
            &self,
            __drift_index: ::core::option::Option<usize>,
        ) -> ::core::option::Option<&'static str> {
            let mut __drift_buf = ::std::vec::Vec::new();
            match __drift_index {
                ::core::option::Option::None => { #key }
                #(#arms)*
                _ => {}
            }
            ::core::option::Option::None
        }
    }
}
