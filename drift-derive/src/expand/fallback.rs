//! Beside the errors, the smallest expansion that lets the rest of the crate
//! type-check (thiserror-impl's `fallback.rs`): an `Entity` impl whose functions are
//! never called, the field and relation handles and accessors that code names, and
//! the `IndexOn`/`UniqueOn`/`BelongsToRel` impls that other entities' checks require.
//! Without it, a mistake in an attribute would also fail every `User::NAME`,
//! `tx.insert(&user)`, `.with(Post::AUTHOR)` and `has_many(User, ..)` of the crate.
//! Nothing here runs: the crate does not compile.

use proc_macro2::TokenStream;
use quote::quote;

use super::fields;
use super::relation::{self, Bodies};
use crate::internals::ast::Entity;
use crate::internals::unraw::unraw;

/// `errors` (`compile_error!`s), then the stand-in items. `entity` is the model when
/// the input was a struct with named fields; it is unchecked.
pub(crate) fn expand(input: &syn::DeriveInput, entity: Option<&Entity<'_>>, errors: &TokenStream) -> TokenStream {
    let ident = &input.ident;
    // A generic struct is itself an error; its handles would need its parameters.
    let entity = entity.filter(|_| input.generics.params.is_empty());
    let key = entity.and_then(key_type).unwrap_or_else(|| quote!(()));
    let handles = entity.map(|e| {
        let fields = fields::handles(e);
        let relations = relation::inherent(e, Bodies::Unreachable);
        quote!(#fields #relations)
    });
    let trait_impls = entity.map(relation::trait_impls);
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let mut where_clause = input.generics.clone().make_where_clause().clone();
    // The supertraits as a bound of the impl, made non-trivial by `for<'__drift>`
    // (rustc rejects a trivially false bound): a struct without `Clone` is then not a
    // second error here, beside the one being reported.
    where_clause.predicates.push(syn::parse_quote! {
        for<'__drift> #ident #ty_generics: ::core::clone::Clone
            + ::core::marker::Send
            + ::core::marker::Sync
            + 'static
    });
    let name = unraw(ident);
    let table = entity.map_or_else(|| name.clone(), |e| e.table.clone());
    quote! {
        #errors

        #handles

        const _: () = {
            #trait_impls

            #[automatically_derived]
            impl #impl_generics ::drift::__private::Entity for #ident #ty_generics #where_clause {
                type Key = #key;

                const SCHEMA: &'static ::drift::__private::EntityDescriptor = &::drift::__private::EntityDescriptor {
                    name: ::drift::__private::Cow::Borrowed(#name),
                    table: ::drift::__private::Cow::Borrowed(#table),
                    version: 1,
                    fields: ::drift::__private::Cow::Borrowed(&[]),
                    primary_key: ::drift::__private::Cow::Borrowed(&[]),
                    auto_increment: false,
                    indexes: ::drift::__private::Cow::Borrowed(&[]),
                    relations: ::drift::__private::Cow::Borrowed(&[]),
                    renamed_from: ::core::option::Option::None,
                };

                fn key(&self) -> #key {
                    ::core::unreachable!()
                }

                fn __encode_key(
                    &self,
                    _: &mut ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
                    ::core::unreachable!()
                }

                fn __encode_row(&self, _: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    ::core::unreachable!()
                }

                fn __decode_row(_: &[u8], _: &[u8]) -> ::core::result::Result<Self, ::std::string::String> {
                    ::core::unreachable!()
                }

                fn __encode_index(
                    &self,
                    _: usize,
                    _: &mut ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::drift::__private::KeyError> {
                    ::core::unreachable!()
                }

                fn __skip_index(_: usize, _: &mut &[u8]) -> ::core::result::Result<(), ::drift::__private::KeyError> {
                    ::core::unreachable!()
                }

                fn __skip_field(_: usize, _: &mut &[u8]) -> ::core::result::Result<(), ::drift::__private::KeyError> {
                    ::core::unreachable!()
                }

                fn __describe_index(&self, _: usize) -> ::std::string::String {
                    ::core::unreachable!()
                }
            }
        };
    }
}

/// The key type that the derive would have given (so that `tx.get::<User>(&id)` still
/// type-checks), when the key fields make a key: 1 to 6 stored fields.
fn key_type(entity: &Entity<'_>) -> Option<TokenStream> {
    let keys = entity.key_fields();
    if keys.iter().any(|&p| entity.fields[p].is_relation()) {
        return None;
    }
    let tys: Vec<&syn::Type> = keys.iter().map(|&p| entity.fields[p].ty).collect();
    match tys.as_slice() {
        [] => None,
        [ty] => Some(quote!(#ty)),
        tys if tys.len() <= 6 => Some(quote!((#(#tys,)*))),
        _ => None,
    }
}
