//! Relations: handles (`Post::AUTHOR`), lazy accessors (`post.author(&tx)`), the
//! hidden `Entity` functions the runtime calls, and the cross-entity checks as trait
//! bounds (an index on a `has_many`'s foreign key, a join's two `belongs_to`).

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::internals::ast::Entity;
use crate::internals::relation::{RelKind, RelationAttr};
use crate::internals::unraw::{handle, join, unraw};

/// The const argument of `IndexOn`/`UniqueOn` for fields named `names` (joined by
/// `,`): the runtime's own hash, computed by the compiler, so that the derive and
/// `drift-core` cannot disagree on it.
fn fields_hash(names: &str) -> TokenStream {
    quote!({ ::drift::__private::fields_hash(#names) })
}

fn relations<'e, 'a>(entity: &'e Entity<'a>) -> impl Iterator<Item = (usize, &'e RelationAttr, usize)> + 'e {
    entity
        .relations
        .iter()
        .enumerate()
        .filter_map(|(ri, r)| entity.fields[r.field].attrs.relation.as_ref().map(|a| (ri, a, r.field)))
}

/// What the relation accessors do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bodies {
    /// Load the related rows: the derive's output.
    Load,
    /// Nothing: the fallback beside errors, in a crate that does not compile, where
    /// the accessors only need to exist so that calls to them type-check.
    Unreachable,
}

/// Relation handles and accessors, in an inherent impl.
pub(crate) fn inherent(entity: &Entity<'_>, bodies: Bodies) -> TokenStream {
    let ident = entity.ident;
    let pk = entity.key_fields();
    let body = |load: TokenStream| match bodies {
        Bodies::Load => load,
        Bodies::Unreachable => quote!(::core::unreachable!()),
    };
    let mut items = Vec::new();
    for (ri, attr, pos) in relations(entity) {
        let f = &entity.fields[pos];
        if bodies == Bodies::Unreachable && f.proxy.map(|(kind, _)| kind) != Some(attr.kind) {
            // Unchecked: a field whose type does not match its attribute has no handle.
            continue;
        }
        let fname = f.ident;
        let vis = &f.original.vis;
        let name = unraw(fname);
        let cname = handle(fname);
        let target = &attr.target;
        let proxy_kind = format_ident!("{}", attr.kind.proxy());
        let doc = format!("Handle on the `{name}` relation, for eager loading with `.with(..)`.");
        items.push(quote! {
            #[doc = #doc]
            #vis const #cname: ::drift::__private::Relation<#ident, #target> = ::drift::__private::Relation::__new(
                #name,
                #ri,
                ::drift::__private::ProxyOf::#proxy_kind(|__drift_e: &#ident| &__drift_e.#fname),
            );
        });
        let reader = quote!(::drift::__private::Transaction::__reader(__drift_tx));
        let accessor = match attr.kind {
            RelKind::BelongsTo => {
                let key = &entity.relations[ri].key_fields;
                let optional = key.len() == 1 && entity.fields[key[0]].optional;
                let doc = format!("The `{name}` parent: loaded on first call (one read), then kept in the proxy.");
                if optional {
                    let load = body(quote! {
                        ::drift::__private::lazy_belongs_to::<Self, #target>(#reader, self, #ri, &self.#fname)
                    });
                    quote! {
                        #[doc = #doc]
                        #vis fn #fname<'__drift_s>(
                            &'__drift_s self,
                            __drift_tx: &impl ::drift::__private::Transaction,
                        ) -> ::drift::__private::Result<::core::option::Option<&'__drift_s #target>> {
                            #load
                        }
                    }
                } else {
                    let load = body(quote! {
                        match ::drift::__private::lazy_belongs_to::<Self, #target>(#reader, self, #ri, &self.#fname)? {
                            ::core::option::Option::Some(__drift_p) => ::core::result::Result::Ok(__drift_p),
                            ::core::option::Option::None => ::core::result::Result::Err(
                                ::drift::__private::dangling::<Self, #target>(self, #ri),
                            ),
                        }
                    });
                    quote! {
                        #[doc = #doc]
                        #vis fn #fname<'__drift_s>(
                            &'__drift_s self,
                            __drift_tx: &impl ::drift::__private::Transaction,
                        ) -> ::drift::__private::Result<&'__drift_s #target> {
                            #load
                        }
                    }
                }
            }
            RelKind::HasMany | RelKind::HasOne => {
                let qname = format_ident!("{}_query", name, span = fname.span());
                let conds = attr.key.iter().zip(&pk).map(|(fk, &p)| {
                    let fk_const = handle(fk);
                    let own = entity.fields[p].ident;
                    quote!(<#target>::#fk_const.__eq_parent_key(::core::clone::Clone::clone(&self.#own)))
                });
                let qdoc = format!("A query over the `{name}` rows of this row (filtered by their foreign key).");
                let select = body(quote!(::drift::__private::query_of::<#target>(#reader).filter(#(#conds)&*)));
                let query = quote! {
                    #[doc = #qdoc]
                    #vis fn #qname<'__drift_tx>(
                        &self,
                        __drift_tx: &'__drift_tx impl ::drift::__private::Transaction,
                    ) -> ::drift::__private::Query<'__drift_tx, #target> {
                        #select
                    }
                };
                if attr.kind == RelKind::HasMany {
                    let doc = format!(
                        "The `{name}` children: one prefix scan of their foreign-key index on first call, then kept."
                    );
                    let load = body(quote! {
                        ::drift::__private::lazy_has_many::<Self, #target>(#reader, self, #ri, &self.#fname)
                    });
                    quote! {
                        #[doc = #doc]
                        #vis fn #fname<'__drift_s>(
                            &'__drift_s self,
                            __drift_tx: &impl ::drift::__private::Transaction,
                        ) -> ::drift::__private::Result<&'__drift_s [#target]> {
                            #load
                        }
                        #query
                    }
                } else {
                    let doc = format!("The `{name}` child, if any: loaded on first call, then kept.");
                    let load = body(quote! {
                        ::drift::__private::lazy_has_one::<Self, #target>(#reader, self, #ri, &self.#fname)
                    });
                    quote! {
                        #[doc = #doc]
                        #vis fn #fname<'__drift_s>(
                            &'__drift_s self,
                            __drift_tx: &impl ::drift::__private::Transaction,
                        ) -> ::drift::__private::Result<::core::option::Option<&'__drift_s #target>> {
                            #load
                        }
                        #query
                    }
                }
            }
            RelKind::ManyToMany => {
                let doc = format!("The `{name}` rows paired through the join entity: loaded on first call, then kept.");
                let load = body(quote! {
                    ::drift::__private::lazy_many_to_many::<Self, #target>(#reader, self, #ri, &self.#fname)
                });
                quote! {
                    #[doc = #doc]
                    #vis fn #fname<'__drift_s>(
                        &'__drift_s self,
                        __drift_tx: &impl ::drift::__private::Transaction,
                    ) -> ::drift::__private::Result<&'__drift_s [#target]> {
                        #load
                    }
                }
            }
        };
        items.push(accessor);
    }
    if items.is_empty() {
        return TokenStream::new();
    }
    quote! {
        #[automatically_derived]
        impl #ident {
            #(#items)*
        }
    }
}

/// The trait impls that other entities' checks rely on: `IndexOn`, `UniqueOn`,
/// `BelongsToRel`.
pub(crate) fn trait_impls(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let mut out = Vec::new();
    // IndexOn for every prefix of the key and of each index that finds every row by
    // it (a unique index with an `Option` field past the prefix has no entry for a row
    // with `None` there); UniqueOn for the whole key and each unique index.
    let mut lists: Vec<(Vec<usize>, bool, bool)> = vec![(entity.key_fields(), true, true)];
    for idx in &entity.indexes {
        lists.push((idx.fields.clone(), idx.unique, false));
    }
    let mut seen = HashSet::new();
    let mut seen_unique = HashSet::new();
    for (cols, unique, is_key) in &lists {
        for k in 1..=cols.len() {
            let partial = *unique && !is_key && cols[k..].iter().any(|&p| entity.fields[p].optional);
            if partial && k < cols.len() {
                continue;
            }
            let names = join(cols[..k].iter().map(|&p| entity.fields[p].ident), ",");
            let h = fields_hash(&names);
            let tys: Vec<&syn::Type> = cols[..k].iter().map(|&p| entity.fields[p].ty).collect();
            let vty = if k == 1 { tys[0].to_token_stream() } else { quote!((#(#tys,)*)) };
            if seen.insert(names.clone()) {
                out.push(quote! {
                    impl ::drift::__private::IndexOn<#h> for #ident {
                        type Value = #vty;
                    }
                });
            }
            if *unique && k == cols.len() && seen_unique.insert(names) {
                out.push(quote!(impl ::drift::__private::UniqueOn<#h> for #ident {}));
            }
        }
    }
    let mut parents = HashSet::new();
    for (_, attr, _) in relations(entity) {
        let target = &attr.target;
        if attr.kind == RelKind::BelongsTo && parents.insert(target.to_token_stream().to_string()) {
            out.push(quote!(impl ::drift::__private::BelongsToRel<#target> for #ident {}));
        }
    }
    quote!(#(#out)*)
}

/// This entity's cross-entity checks, as calls whose bounds fail at the attribute
/// that names the other entity.
pub(crate) fn checks(entity: &Entity<'_>) -> TokenStream {
    let ident = entity.ident;
    let mut asserts = Vec::new();
    for (ri, attr, _) in relations(entity) {
        let target = &attr.target;
        asserts.push(quote_spanned!(target.span()=> ::drift::__private::assert_entity::<#target>();));
        match attr.kind {
            RelKind::BelongsTo => {
                let key = &entity.relations[ri].key_fields;
                if key.len() == 1 {
                    let f = &entity.fields[key[0]];
                    let ty = f.ty;
                    let span = attr.key[0].span();
                    asserts.push(quote_spanned! {span=>
                        ::drift::__private::assert_fk::<#ty, <#target as ::drift::__private::Entity>::Key>();
                    });
                } else if !key.is_empty() {
                    let fields = key.iter().map(|&p| entity.fields[p].ident);
                    let span = attr.key[0].span();
                    asserts.push(quote_spanned! {span=>
                        let _: fn(&#ident) -> <#target as ::drift::__private::Entity>::Key =
                            |__drift_e: &#ident| (#(::core::clone::Clone::clone(&__drift_e.#fields),)*);
                    });
                }
            }
            RelKind::HasMany | RelKind::HasOne => {
                let h = fields_hash(&join(&attr.key, ","));
                let span = attr.key[0].span();
                asserts.push(quote_spanned! {span=>
                    ::drift::__private::assert_indexed_fk::<#target, <#ident as ::drift::__private::Entity>::Key, #h>();
                });
                if attr.kind == RelKind::HasOne {
                    asserts.push(quote_spanned! {span=>
                        ::drift::__private::assert_unique_fk::<#target, #h>();
                    });
                }
            }
            RelKind::ManyToMany => {
                if let Some(join) = &attr.through {
                    asserts.push(quote_spanned! {join.span()=>
                        ::drift::__private::assert_join::<#join, #ident, #target>();
                    });
                }
            }
        }
    }
    quote! {
        #[allow(dead_code, clippy::redundant_closure)]
        fn __drift_assert_relations() {
            #(#asserts)*
        }
    }
}

/// The hidden `Entity` functions for relations.
pub(crate) fn entity_fns(entity: &Entity<'_>) -> TokenStream {
    if entity.relations.is_empty() {
        return TokenStream::new();
    }
    let mut fk_arms = Vec::new();
    let mut null_arms = Vec::new();
    let mut target_arms = Vec::new();
    let mut through_arms = Vec::new();
    for (ri, attr, _) in relations(entity) {
        let target = &attr.target;
        target_arms.push(quote!(#ri => ::core::option::Option::Some(::drift::__private::TypeId::of::<#target>()),));
        if let Some(join) = &attr.through {
            through_arms.push(quote!(#ri => ::core::option::Option::Some(::drift::__private::TypeId::of::<#join>()),));
        }
        if attr.kind != RelKind::BelongsTo {
            continue;
        }
        let key = &entity.relations[ri].key_fields;
        if key.len() == 1 && entity.fields[key[0]].optional {
            let f = entity.fields[key[0]].ident;
            fk_arms.push(quote! {
                #ri => match &self.#f {
                    ::core::option::Option::Some(__drift_v) => {
                        ::drift::__private::KeyCodec::encode_key(__drift_v, __drift_out)?;
                        ::core::result::Result::Ok(true)
                    }
                    ::core::option::Option::None => ::core::result::Result::Ok(false),
                },
            });
            null_arms.push(quote!(#ri => { self.#f = ::core::option::Option::None; }));
        } else {
            let encodes = key.iter().map(|&p| {
                let (f, ty) = (entity.fields[p].ident, entity.fields[p].ty);
                quote!(<#ty as ::drift::__private::KeyCodec>::encode_key(&self.#f, __drift_out)?;)
            });
            fk_arms.push(quote! {
                #ri => {
                    #(#encodes)*
                    ::core::result::Result::Ok(true)
                }
            });
        }
    }
    quote! {
        fn __belongs_to_key(
            &self,
            __drift_rel: usize,
            __drift_out: &mut ::std::vec::Vec<u8>,
        ) -> ::core::result::Result<bool, ::drift::__private::KeyError> {
            match __drift_rel {
                #(#fk_arms)*
                _ => ::core::result::Result::Ok(false),
            }
        }

        fn __set_null(&mut self, __drift_rel: usize) {
            match __drift_rel {
                #(#null_arms)*
                _ => {}
            }
        }

        fn __relation_target(__drift_rel: usize) -> ::core::option::Option<::drift::__private::TypeId> {
            match __drift_rel {
                #(#target_arms)*
                _ => ::core::option::Option::None,
            }
        }

        fn __relation_through(__drift_rel: usize) -> ::core::option::Option<::drift::__private::TypeId> {
            match __drift_rel {
                #(#through_arms)*
                _ => ::core::option::Option::None,
            }
        }
    }
}
