//! The schema descriptor constant.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::internals::ast::{Entity, Field};
use crate::internals::attr::RenamedFrom;
use crate::internals::relation::{OnDeleteAttr, RelKind};
use crate::internals::unraw::unraw;

fn type_name(ty: &syn::Type) -> String {
    ty.to_token_stream().to_string().chars().filter(|c| !c.is_whitespace()).collect()
}

/// `Some(Cow::Borrowed("old"))` for `renamed_from = "old"`, else `None`.
fn renamed_from(attr: Option<&RenamedFrom>) -> TokenStream {
    match attr {
        Some(r) => {
            let name = &r.name;
            quote!(::core::option::Option::Some(::drift::__private::Cow::Borrowed(#name)))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// `default = expr`: a function encoding `expr`, typed as the field, so that a value
/// of another type fails to compile at `expr`.
fn default(field: &Field<'_>) -> TokenStream {
    let Some(d) = &field.attrs.default else { return quote!(::core::option::Option::None) };
    let (ty, expr) = (field.ty, &d.expr);
    quote! {
        ::core::option::Option::Some(::drift::__private::FieldDefault(|| {
            let __drift_value: #ty = #expr;
            ::drift::__private::encode_default(&__drift_value)
        }))
    }
}

pub(crate) fn descriptor(entity: &Entity<'_>) -> TokenStream {
    let name = unraw(entity.ident);
    let table = &entity.table;
    let version = entity.version;
    let fields = entity.fields.iter().map(|f| {
        let fname = unraw(f.ident);
        let ty = type_name(f.ty);
        let optional = f.optional;
        let kind = if f.attrs.primary_key.is_some() {
            quote!(Key)
        } else if f.is_relation() {
            quote!(Relation)
        } else {
            quote!(Data)
        };
        let fty = f.ty;
        let renamed_from = renamed_from(f.attrs.renamed_from.as_ref());
        let default = default(f);
        // Relation proxies are never stored: they have no shape.
        let shape = if f.is_relation() {
            quote!(::drift::__private::FieldShape::Unknown)
        } else {
            quote! {
                ::drift::__private::FieldShape::Compiled({
                    fn __drift_shape() -> ::drift::__private::Shape {
                        #[allow(unused_imports)]
                        use ::drift::__private::{ViaDescribe as _, ViaOpaque as _};
                        (&&::drift::__private::ShapeProbe::<#fty>::new()).drift_shape()
                    }
                    __drift_shape
                })
            }
        };
        quote! {
            ::drift::__private::FieldDescriptor {
                name: ::drift::__private::Cow::Borrowed(#fname),
                ty: ::drift::__private::Cow::Borrowed(#ty),
                kind: ::drift::__private::FieldKind::#kind,
                optional: #optional,
                shape: #shape,
                renamed_from: #renamed_from,
                default: #default,
            }
        }
    });
    let keys = entity.key_fields().into_iter().map(|p| unraw(entity.fields[p].ident));
    let auto = entity.auto_increment();
    let entity_renamed_from = renamed_from(entity.renamed_from.as_ref());
    let indexes = entity.indexes.iter().map(|idx| {
        let iname = &idx.name;
        let ifields = idx.fields.iter().map(|&p| unraw(entity.fields[p].ident));
        let unique = idx.unique;
        quote! {
            ::drift::__private::IndexDescriptor {
                name: ::drift::__private::Cow::Borrowed(#iname),
                fields: ::drift::__private::Cow::Borrowed(&[#(::drift::__private::Cow::Borrowed(#ifields)),*]),
                unique: #unique,
            }
        }
    });
    let relations = entity.relations.iter().map(|r| {
        let f = &entity.fields[r.field];
        let Some(attr) = &f.attrs.relation else { return TokenStream::new() };
        let rname = unraw(f.ident);
        let target = attr.target.segments.last().map(|s| unraw(&s.ident)).unwrap_or_default();
        let kind = match attr.kind {
            RelKind::BelongsTo => quote!(BelongsTo),
            RelKind::HasMany => quote!(HasMany),
            RelKind::HasOne => quote!(HasOne),
            RelKind::ManyToMany => quote!(ManyToMany),
        };
        let key = attr.key.iter().map(unraw);
        let through = match attr.through.as_ref().and_then(|p| p.segments.last()) {
            Some(s) => {
                let t = unraw(&s.ident);
                quote!(::core::option::Option::Some(::drift::__private::Cow::Borrowed(#t)))
            }
            None => quote!(::core::option::Option::None),
        };
        let on_delete = match attr.on_delete {
            OnDeleteAttr::Restrict => quote!(Restrict),
            OnDeleteAttr::Cascade => quote!(Cascade),
            OnDeleteAttr::SetNull => quote!(SetNull),
        };
        quote! {
            ::drift::__private::RelationDescriptor {
                name: ::drift::__private::Cow::Borrowed(#rname),
                kind: ::drift::__private::RelationKind::#kind,
                target: ::drift::__private::Cow::Borrowed(#target),
                key: ::drift::__private::Cow::Borrowed(&[#(::drift::__private::Cow::Borrowed(#key)),*]),
                through: #through,
                on_delete: ::drift::__private::OnDelete::#on_delete,
            }
        }
    });
    quote! {
        ::drift::__private::EntityDescriptor {
            name: ::drift::__private::Cow::Borrowed(#name),
            table: ::drift::__private::Cow::Borrowed(#table),
            version: #version,
            fields: ::drift::__private::Cow::Borrowed(&[#(#fields),*]),
            primary_key: ::drift::__private::Cow::Borrowed(&[#(::drift::__private::Cow::Borrowed(#keys)),*]),
            auto_increment: #auto,
            indexes: ::drift::__private::Cow::Borrowed(&[#(#indexes),*]),
            relations: ::drift::__private::Cow::Borrowed(&[#(#relations),*]),
            renamed_from: #entity_renamed_from,
        }
    }
}
