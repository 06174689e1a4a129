//! `#[derive(Message)]`: [`parse`] → [`validate`] → [`expand`].

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::diag::Errors;

/// The whole derive on `proc_macro2` streams.
///
/// When only the `#[message(...)]` options are wrong, the impl is still generated (with
/// the default wire name) next to the errors, so that code sending the type does not
/// fail with a second, misleading "not a `Message`" error.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::new();
    let parsed = parse::parse(&input, &mut errors);
    let mut out = match validate::validate(parsed, &mut errors) {
        Some(model) => expand::expand(&model),
        None => TokenStream::new(),
    };
    out.extend(errors.to_compile_errors());
    out
}
