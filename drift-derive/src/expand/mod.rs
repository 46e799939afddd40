//! Code generation from the checked model.

mod describe;
mod fallback;
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

pub(crate) use describe::derive_describe;

/// parse -> check -> expand; on error, every error together, beside a fallback that
/// keeps the mistake from cascading into the code using the entity.
pub(crate) fn derive_entity(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let entity = Entity::from_ast(&cx, input);
    if let Some(entity) = &entity {
        check(&cx, entity);
    }
    match (cx.check(), entity) {
        (Ok(()), Some(entity)) => expand(&entity),
        // `from_ast` has no model only after reporting why.
        (result, entity) => {
            let errors = result.err().map_or_else(TokenStream::new, |e| e.to_compile_error());
            fallback::expand(input, entity.as_ref(), &errors)
        }
    }
}

fn expand(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let handles = fields::handles(entity);
    let key_fns = key::key_fns(entity);
    let row = row::row_types(entity);
    let encode_row = row::encode_row(entity);
    let decode_row = row::decode_row(entity);
    let key_items = key::key_items(entity);
    let index_items = key::index_items(entity);
    let schema = schema::descriptor(entity);
    let failing_key_field = key::failing_key_field(entity);
    let validate = validate::validate_fn(entity);
    let relation_inherent = relation::inherent(entity, relation::Bodies::Load);
    let relation_impls = relation::trait_impls(entity);
    let relation_checks = relation::checks(entity);
    let relation_fns = relation::entity_fns(entity);
    quote! {
        #handles
        #relation_inherent

        const _: () = {
            #key_fns
            #relation_impls
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

#[cfg(test)]
mod snapshots {
    //! The generated code for representative entities, pretty-printed: a change to
    //! the expansion shows up as a reviewable diff of these snapshots.

    fn expand(src: &str) -> String {
        expand_with(src, super::derive_entity)
    }

    fn expand_with(src: &str, derive: fn(&syn::DeriveInput) -> proc_macro2::TokenStream) -> String {
        let input: syn::DeriveInput = syn::parse_str(src).expect("test input parses");
        let file: syn::File = syn::parse2(derive(&input)).expect("generated code parses as items");
        prettyplease::unparse(&file)
    }

    #[test]
    fn entity_with_auto_increment_unique_and_index() {
        insta::assert_snapshot!(expand(
            r#"
            #[drift(table = "users", version = 2)]
            pub struct User {
                #[drift(primary_key, auto_increment)]
                pub id: u64,
                #[drift(unique)]
                pub email: String,
                #[drift(index)]
                pub age: u32,
                pub name: String,
            }
            "#
        ));
    }

    #[test]
    fn entity_with_composite_key_and_multi_field_index() {
        insta::assert_snapshot!(expand(
            r#"
            #[drift(index(fields(city, score)))]
            pub struct Reading {
                #[drift(primary_key)]
                pub sensor: String,
                #[drift(primary_key)]
                pub seq: i64,
                pub city: String,
                pub score: Option<i16>,
            }
            "#
        ));
    }

    #[test]
    fn entity_with_relations() {
        insta::assert_snapshot!(expand(
            r#"
            pub struct Post {
                #[drift(primary_key, auto_increment)]
                pub id: u64,
                pub author_id: u64,
                #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
                pub author: BelongsTo<User>,
                #[drift(many_to_many(Tag, through = PostTag))]
                pub tags: ManyToMany<Tag>,
                #[drift(has_many(Comment, foreign_key = post_id))]
                pub comments: HasMany<Comment>,
            }
            "#
        ));
    }

    #[test]
    fn fallback_beside_an_error() {
        insta::assert_snapshot!(expand(
            r#"
            pub struct Post {
                #[drift(primary_key)]
                pub id: u64,
                #[drift(indexed)]
                pub r#type: String,
                pub author_id: u64,
                #[drift(belongs_to(User, key = author_id))]
                pub author: BelongsTo<User>,
            }
            "#
        ));
    }

    #[test]
    fn entity_with_renames_and_a_default() {
        insta::assert_snapshot!(expand(
            r#"
            #[drift(renamed_from = "Account")]
            pub struct User {
                #[drift(primary_key)]
                pub id: u64,
                #[drift(renamed_from = "mail")]
                pub email: String,
                #[drift(default = Plan::Free)]
                pub plan: Plan,
            }
            "#
        ));
    }

    #[test]
    fn describe_generic_struct_with_a_skipped_field() {
        insta::assert_snapshot!(expand_with(
            r#"
            pub struct Pair<'a, T, const N: usize> {
                pub first: T,
                pub rest: [u8; N],
                #[serde(skip)]
                pub cache: &'a str,
            }
            "#,
            super::derive_describe
        ));
    }

    #[test]
    fn describe_enum_of_every_variant_kind() {
        insta::assert_snapshot!(expand_with(
            r#"
            pub enum Event {
                Started,
                Moved(i32, i32),
                Renamed { from: String, to: String },
                #[serde(skip)]
                Internal(Cache),
            }
            "#,
            super::derive_describe
        ));
    }

    #[test]
    fn describe_beside_an_error() {
        insta::assert_snapshot!(expand_with(
            r#"
            #[serde(tag = "type")]
            pub enum Event {
                Started { at: u64 },
            }
            "#,
            super::derive_describe
        ));
    }
}
