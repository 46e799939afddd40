//! Collects errors so that every mistake is reported at once (`serde_derive`'s `Ctxt`).

use std::cell::RefCell;
use std::fmt::Display;
use std::thread;

use quote::ToTokens;

/// The errors found so far. It must be consumed by [`Ctxt::check`]: dropping it
/// unchecked panics, so that no path can lose an error.
pub(crate) struct Ctxt {
    /// `None` once checked.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Ctxt { errors: RefCell::new(Some(Vec::new())) }
    }

    /// An error spanning `obj`'s tokens.
    pub(crate) fn error_spanned_by<A: ToTokens, T: Display>(&self, obj: A, msg: T) {
        self.syn_error(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    pub(crate) fn syn_error(&self, err: syn::Error) {
        self.errors.borrow_mut().as_mut().expect("errors are added before the context is checked").push(err);
    }

    /// All errors combined into one, or `Ok` when there were none.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self.errors.borrow_mut().take().expect("the context is checked once, by value").into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        assert!(thread::panicking() || self.errors.borrow().is_none(), "forgot to check for errors");
    }
}

#[cfg(test)]
mod tests {
    use super::Ctxt;

    #[test]
    #[should_panic(expected = "forgot to check for errors")]
    fn dropping_an_unchecked_context_panics() {
        let cx = Ctxt::new();
        cx.error_spanned_by(quote::quote!(x), "lost");
    }

    #[test]
    fn check_combines_every_error() {
        let cx = Ctxt::new();
        cx.error_spanned_by(quote::quote!(a), "first");
        cx.error_spanned_by(quote::quote!(b), "second");
        let err = cx.check().expect_err("two errors were added");
        assert_eq!(err.into_iter().map(|e| e.to_string()).collect::<Vec<_>>(), ["first", "second"]);
    }
}
