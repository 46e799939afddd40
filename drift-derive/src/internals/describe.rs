//! The model `#[derive(Describe)]` reads: a struct or enum as postcard lays out its
//! serde encoding. The derive describes the derived serde impl, so it reads the
//! `#[serde(...)]` attributes that change that layout: `skip` drops a field (both
//! ways), `transparent` makes the type its one field, and any attribute whose layout a
//! shape cannot say is an error on that attribute. Attributes that only rename or
//! default (`rename`, `alias`, `default`, `bound`, ...) leave postcard's bytes alone:
//! postcard writes no names and reads every field.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::ctxt::Ctxt;
use super::symbol::{LAYOUT_CHANGING, SERDE, SKIP, SKIP_DESERIALIZING, SKIP_SERIALIZING, TRANSPARENT};
use super::unraw::unraw;

pub(crate) struct Describe<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) original: &'a syn::DeriveInput,
    /// `#[serde(transparent)]`: its keyword.
    pub(crate) transparent: Option<Span>,
    pub(crate) body: Body<'a>,
}

pub(crate) enum Body<'a> {
    /// A named, tuple, newtype or unit struct: its fields in order.
    Struct(Vec<Member<'a>>),
    /// An enum: its variants in order (postcard writes a variant's position).
    Enum(Vec<Case<'a>>),
}

/// A field of a struct or variant.
pub(crate) struct Member<'a> {
    /// The field's name; a tuple field's position (`0`, `1`, ...).
    pub(crate) name: String,
    pub(crate) ty: &'a Type,
    /// `#[serde(skip)]`: neither written nor read.
    pub(crate) skip: bool,
}

/// A variant of an enum.
pub(crate) struct Case<'a> {
    pub(crate) name: String,
    pub(crate) members: Vec<Member<'a>>,
    /// `#[serde(skip)]`: never written nor read, but it keeps its position, which
    /// numbers the variants after it.
    pub(crate) skip: bool,
}

/// What one item's `#[serde(...)]` attributes say about its layout.
struct SerdeAttrs {
    skip: bool,
    transparent: Option<Span>,
}

impl<'a> Describe<'a> {
    /// Builds the model; `None` for a union (after reporting it).
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Describe<'a>> {
        let ident = &input.ident;
        let container = SerdeAttrs::from_ast(cx, ident, &input.attrs, Place::Container);
        let body = match &input.data {
            syn::Data::Struct(s) => Body::Struct(members(cx, ident, &s.fields)),
            syn::Data::Enum(e) => Body::Enum(
                e.variants
                    .iter()
                    .map(|v| Case {
                        name: unraw(&v.ident),
                        members: members(cx, ident, &v.fields),
                        skip: SerdeAttrs::from_ast(cx, ident, &v.attrs, Place::Variant).skip,
                    })
                    .collect(),
            ),
            syn::Data::Union(u) => {
                cx.error_spanned_by(u.union_token, "`#[derive(Describe)]` needs a struct or an enum, not a union");
                return None;
            }
        };
        Some(Describe { ident, original: input, transparent: container.transparent, body })
    }
}

fn members<'a>(cx: &Ctxt, ty_ident: &Ident, fields: &'a syn::Fields) -> Vec<Member<'a>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| Member {
            name: f.ident.as_ref().map_or_else(|| i.to_string(), unraw),
            ty: &f.ty,
            skip: SerdeAttrs::from_ast(cx, ty_ident, &f.attrs, Place::Field).skip,
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Container,
    Variant,
    Field,
}

impl SerdeAttrs {
    /// Reads `attrs`, reporting each attribute that changes the layout in a way a
    /// shape cannot say. Attributes that do not parse are left to serde to report.
    fn from_ast(cx: &Ctxt, ty_ident: &Ident, attrs: &[syn::Attribute], place: Place) -> SerdeAttrs {
        let mut out = SerdeAttrs { skip: false, transparent: None };
        let (mut skip_ser, mut skip_de) = (None, None);
        for attr in attrs.iter().filter(|a| a.path() == SERDE) {
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path == SKIP {
                    out.skip = true;
                } else if meta.path == SKIP_SERIALIZING {
                    skip_ser = Some(meta.path.clone());
                } else if meta.path == SKIP_DESERIALIZING {
                    skip_de = Some(meta.path.clone());
                } else if meta.path == TRANSPARENT && place == Place::Container {
                    out.transparent = Some(meta.path.span());
                } else if let Some(word) = LAYOUT_CHANGING.iter().find(|w| meta.path == **w) {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "`#[serde({word})]` changes how `{0}` is stored in a way `#[derive(Describe)]` cannot describe: remove the attribute, or remove `#[derive(Describe)]` and fields of type `{0}` will be opaque to migrations",
                            unraw(ty_ident)
                        ),
                    );
                }
                skip_value(&meta)
            });
        }
        match (skip_ser, skip_de) {
            (Some(_), Some(_)) => out.skip = true,
            // A variant skipped one way keeps its layout: only the other way fails.
            (Some(one), None) | (None, Some(one)) if place == Place::Field && !out.skip => {
                let word = one.to_token_stream().to_string();
                cx.error_spanned_by(
                    &one,
                    format!(
                        "`#[serde({word})]` alone gives `{0}` one layout when written and another when read, which `#[derive(Describe)]` cannot describe: use `#[serde(skip)]`, or remove `#[derive(Describe)]` and fields of type `{0}` will be opaque to migrations",
                        unraw(ty_ident)
                    ),
                );
            }
            _ => {}
        }
        out
    }
}

/// Consumes what follows an attribute's name (`= value` or `(...)`), whatever it is.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>().map(drop)
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::TokenTree>().map(drop)
    } else {
        Ok(())
    }
}
