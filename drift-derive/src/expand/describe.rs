//! `#[derive(Describe)]`: a struct's or enum's wire shape, as postcard lays out its
//! serde encoding. Each field's shape comes through the same probe as an entity
//! field's: `Describe` when its type has it, `Shape::Opaque` otherwise; where a
//! recursive type holds itself, `Shape::Opaque` too. Each type parameter is bound by
//! `Describe`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::internals::check::check_describe;
use crate::internals::ctxt::Ctxt;
use crate::internals::describe::{Body, Case, Describe, Member};
use crate::internals::unraw::unraw;

/// parse -> check -> expand; on error, the errors beside an impl that says
/// `Shape::Opaque`, so that the type's other uses still compile.
pub(crate) fn derive_describe(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let model = Describe::from_ast(&cx, input);
    if let Some(model) = &model {
        check_describe(&cx, model);
    }
    match (cx.check(), model) {
        (Ok(()), Some(model)) => impl_describe(model.original, &body(&model)),
        (result, _) => {
            let errors = result.err().map_or_else(TokenStream::new, |e| e.to_compile_error());
            let fallback = impl_describe(input, &quote!(::drift::__private::Shape::Opaque));
            quote!(#errors #fallback)
        }
    }
}

fn impl_describe(input: &syn::DeriveInput, body: &TokenStream) -> TokenStream {
    let ident = &input.ident;
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(::drift::__private::Describe));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::drift::__private::Describe for #ident #ty_generics #where_clause {
                fn shape() -> ::drift::__private::Shape {
                    #[allow(unused_imports)]
                    use ::drift::__private::{ViaDescribe as _, ViaOpaque as _};
                    ::drift::__private::describe_once::<Self>(|| #body)
                }
            }
        };
    }
}

fn body(model: &Describe<'_>) -> TokenStream {
    let name = unraw(model.ident);
    match &model.body {
        // `check_transparent` saw exactly one field that is not skipped.
        Body::Struct(members) if model.transparent.is_some() => {
            members.iter().find(|m| !m.skip).map_or_else(TokenStream::new, |m| probe(m.ty))
        }
        Body::Struct(members) => {
            let fields = named_shapes(members);
            quote! {
                ::drift::__private::Shape::Struct {
                    name: ::std::string::String::from(#name),
                    fields: #fields,
                }
            }
        }
        Body::Enum(cases) => {
            let variants = cases.iter().map(variant);
            quote! {
                ::drift::__private::Shape::Enum {
                    name: ::std::string::String::from(#name),
                    variants: ::std::vec::Vec::from([#(#variants),*]),
                }
            }
        }
    }
}

/// A skipped variant keeps its place (later variants' numbers count it) and, as it is
/// never stored, no fields.
fn variant(case: &Case<'_>) -> TokenStream {
    let name = &case.name;
    let fields = if case.skip { quote!(::std::vec::Vec::new()) } else { named_shapes(&case.members) };
    quote! {
        ::drift::__private::Variant {
            name: ::std::string::String::from(#name),
            fields: #fields,
        }
    }
}

fn named_shapes(members: &[Member<'_>]) -> TokenStream {
    let fields = members.iter().filter(|m| !m.skip).map(|m| {
        let name = &m.name;
        let shape = probe(m.ty);
        quote!(::drift::__private::NamedShape::new(#name, #shape))
    });
    quote!(::std::vec::Vec::from([#(#fields),*]))
}

/// The shape of `ty`: `Describe::shape` when `ty` implements it, else `Opaque`.
fn probe(ty: &syn::Type) -> TokenStream {
    quote!((&&::drift::__private::ShapeProbe::<#ty>::new()).drift_shape())
}
