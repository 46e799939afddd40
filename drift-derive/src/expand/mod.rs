//! Code generation from the checked model.

mod fields;
mod key;
mod relation;
mod row;
mod schema;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;

use crate::internals::ast::Entity;
use crate::internals::check::check;
use crate::internals::ctxt::Ctxt;

/// parse -> check -> expand; on error, every error together.
pub(crate) fn derive_entity(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let entity = Entity::from_ast(&cx, input);
    if let Some(entity) = &entity {
        check(&cx, entity);
    }
    if let Err(err) = cx.check() {
        return err.to_compile_error();
    }
    match entity {
        Some(entity) => expand(&entity),
        None => TokenStream::new(),
    }
}

fn expand(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let handles = fields::handles(entity);
    let assertions = fields::assertions(entity);
    let row = row::row_types(entity);
    let encode_row = row::encode_row(entity);
    let decode_row = row::decode_row(entity);
    let key_items = key::key_items(entity);
    let index_items = key::index_items(entity);
    let schema = schema::descriptor(entity);
    let failing_key_field = key::failing_key_field(entity);
    let validate = validate::validate_fn(entity);
    let relation_inherent = relation::inherent(entity);
    let relation_checks = relation::checks(entity);
    let relation_fns = relation::entity_fns(entity);
    quote! {
        #handles
        #relation_inherent

        const _: () = {
            #assertions
            #relation_checks
            #row

            impl ::drift::__private::Entity for #ident {
                #key_items

                const SCHEMA: &'static ::drift::__private::EntityDescriptor = &#schema;

                fn __encode_row(
                    &self,
                    __drift_out: &mut ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    #encode_row
                }

                fn __decode_row(
                    __drift_key: &[u8],
                    __drift_row: &[u8],
                ) -> ::core::result::Result<Self, ::std::string::String> {
                    #decode_row
                }

                #index_items

                #failing_key_field

                #validate

                #relation_fns
            }
        };
    }
}
