//! The schema descriptor constant.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::internals::ast::Entity;

fn type_name(ty: &syn::Type) -> String {
    ty.to_token_stream()
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn unraw(ident: &syn::Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#")
        .map_or_else(|| s.clone(), str::to_string)
}

pub(crate) fn descriptor(entity: &Entity<'_>) -> TokenStream {
    let name = entity.ident.to_string();
    let table = &entity.table;
    let version = entity.version;
    let fields = entity.fields.iter().map(|f| {
        let fname = unraw(f.ident);
        let ty = type_name(f.ty);
        let kind = if f.attrs.primary_key.is_some() {
            quote!(Key)
        } else {
            quote!(Data)
        };
        quote! {
            ::drift::__private::FieldDescriptor {
                name: ::drift::__private::Cow::Borrowed(#fname),
                ty: ::drift::__private::Cow::Borrowed(#ty),
                kind: ::drift::__private::FieldKind::#kind,
            }
        }
    });
    let keys = entity
        .key_fields()
        .into_iter()
        .map(|p| unraw(entity.fields[p].ident));
    let auto = entity.auto_increment();
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
    quote! {
        ::drift::__private::EntityDescriptor {
            name: ::drift::__private::Cow::Borrowed(#name),
            table: ::drift::__private::Cow::Borrowed(#table),
            version: #version,
            fields: ::drift::__private::Cow::Borrowed(&[#(#fields),*]),
            primary_key: ::drift::__private::Cow::Borrowed(&[#(::drift::__private::Cow::Borrowed(#keys)),*]),
            auto_increment: #auto,
            indexes: ::drift::__private::Cow::Borrowed(&[#(#indexes),*]),
        }
    }
}
