//! `#[rcos::main]`: parse ([`options`], [`crate::item`]) → [`validate`] → [`expand`].

mod expand;
mod options;
mod validate;

use proc_macro2::TokenStream;

use crate::diag::{Errors, item_with_errors};

/// The whole `#[rcos::main]` macro on `proc_macro2` streams.
///
/// If the signature is wrong, the fn is given back unchanged with the errors; if only
/// options are wrong, it is expanded with the default options and the errors added.
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let options = options::parse(args, &mut errors);
    let parsed = match crate::item::parse_fn(item.clone(), "#[rcos::main]") {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(error);
            return with_errors(item, errors);
        }
    };
    if validate::validate(&parsed, &mut errors) {
        let mut out = expand::expand(&parsed, &options);
        out.extend(errors.to_compile_errors());
        out
    } else {
        with_errors(item, errors)
    }
}

fn with_errors(item: TokenStream, errors: Errors) -> TokenStream {
    match errors.finish() {
        Ok(()) => item,
        Err(error) => item_with_errors(item, &error),
    }
}
