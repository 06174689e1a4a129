//! Error collection and recovery shared by the three macros.

use proc_macro2::TokenStream;

/// Collects every problem found in one macro input, so that a single compile reports
/// them all (combined with [`syn::Error::combine`]).
#[derive(Default)]
pub(crate) struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn new() -> Errors {
        Errors::default()
    }

    /// Records one error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    /// Records the error of `result`, if any, and returns its value.
    pub(crate) fn check<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// Moves every error of `other` into `self`.
    pub(crate) fn append(&mut self, other: Errors) {
        if let Some(error) = other.first {
            self.push(error);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// `Ok(())` if nothing was recorded, else every error combined.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.first {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The `compile_error!` invocations for everything recorded (empty if nothing was).
    pub(crate) fn to_compile_errors(&self) -> TokenStream {
        self.first
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }
}

/// The user's item unchanged, followed by the errors (tokio's `token_stream_with_error`):
/// the item keeps existing for IDEs and for the rest of the program, and the only
/// errors the user sees are ours.
pub(crate) fn item_with_errors(item: TokenStream, errors: &syn::Error) -> TokenStream {
    let mut out = item;
    out.extend(errors.to_compile_error());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn errors_combine_in_order() {
        let mut errors = Errors::new();
        assert!(errors.is_empty());
        errors.push(syn::Error::new(Span::call_site(), "first"));
        errors.push(syn::Error::new(Span::call_site(), "second"));
        let combined = errors.finish().unwrap_err();
        let messages: Vec<String> = combined.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn check_keeps_values() {
        let mut errors = Errors::new();
        assert_eq!(errors.check(Ok::<_, syn::Error>(3)), Some(3));
        assert_eq!(
            errors.check::<u8>(Err(syn::Error::new(Span::call_site(), "x"))),
            None
        );
        assert!(!errors.is_empty());
        assert!(!errors.to_compile_errors().is_empty());
    }
}
