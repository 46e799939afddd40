//! The primary key and index encoders.

use proc_macro2::TokenStream;
use quote::quote;

use crate::internals::ast::Entity;

pub(crate) fn key_items(entity: &Entity<'_>) -> TokenStream {
    let keys = entity.key_fields();
    let idents: Vec<_> = keys.iter().map(|&p| entity.fields[p].ident).collect();
    let tys: Vec<_> = keys.iter().map(|&p| entity.fields[p].ty).collect();
    let (key_ty, key_expr) = if keys.len() == 1 {
        let (i, t) = (idents[0], tys[0]);
        (quote!(#t), quote!(<#t as ::core::clone::Clone>::clone(&self.#i)))
    } else {
        (quote!((#(#tys,)*)), quote!((#(<#tys as ::core::clone::Clone>::clone(&self.#idents),)*)))
    };
    let auto = if entity.auto_increment() {
        let i = idents[0];
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
    quote! {
        type Key = #key_ty;

        fn key(&self) -> Self::Key {
            #key_expr
        }

        fn __encode_key(
            &self,
            __drift_out: &mut ::std::vec::Vec<u8>,
        ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
            #(<#tys as ::drift::__private::KeyCodec>::encode_key(&self.#idents, __drift_out)?;)*
            ::core::result::Result::Ok(())
        }

        #auto
    }
}

pub(crate) fn index_items(entity: &Entity<'_>) -> TokenStream {
    let arms = entity.indexes.iter().enumerate().map(|(i, idx)| {
        let idents: Vec<_> = idx.fields.iter().map(|&p| entity.fields[p].ident).collect();
        let tys: Vec<_> = idx.fields.iter().map(|&p| entity.fields[p].ty).collect();
        quote! {
            #i => {
                #(<#tys as ::drift::__private::KeyCodec>::encode_key(&self.#idents, __drift_out)?;)*
                ::core::result::Result::Ok(())
            }
        }
    });
    let skips = entity.indexes.iter().enumerate().map(|(i, idx)| {
        let tys: Vec<_> = idx.fields.iter().map(|&p| entity.fields[p].ty).collect();
        quote! {
            #i => {
                #(::drift::__private::skip_key::<#tys>(__drift_in)?;)*
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
        let ty = entity.fields[p].ty;
        quote!(#p => ::drift::__private::skip_key::<#ty>(__drift_in),)
    });
    let describes = entity.indexes.iter().enumerate().map(|(i, idx)| {
        let idents: Vec<_> = idx.fields.iter().map(|&p| entity.fields[p].ident).collect();
        if idents.len() == 1 {
            let f = idents[0];
            quote!(#i => ::std::format!("{:?}", &self.#f),)
        } else {
            quote!(#i => ::std::format!("{:?}", (#(&self.#idents,)*)),)
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
    let probe = |positions: &[usize]| {
        let probes = positions.iter().map(|&p| {
            let f = &entity.fields[p];
            let (i, t) = (f.ident, f.ty);
            let name = i.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name).to_string();
            quote! {
                __drift_buf.clear();
                if <#t as ::drift::__private::KeyCodec>::encode_key(&self.#i, &mut __drift_buf).is_err() {
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
