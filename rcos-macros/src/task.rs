//! `#[task]`: parse ([`options`], [`crate::item`]) → [`validate`] → [`expand`].

mod expand;
mod options;
mod validate;

use proc_macro2::TokenStream;

use crate::diag::{Errors, item_with_errors};

/// The whole `#[task]` macro on `proc_macro2` streams.
///
/// If the signature is wrong, the user's fn is given back unchanged with the errors.
/// If only options are wrong, the fn is expanded without them (so that the rest of the
/// program, which calls `server::spawn`, keeps compiling) and the errors are added.
pub(crate) fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let options = options::parse(args, &mut errors);
    let parsed = match crate::item::parse_fn(item.clone(), "#[task]") {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(error);
            return with_errors(item, errors);
        }
    };
    let config = validate::config(&parsed, options, &mut errors);
    match validate::validate(&parsed, config, &mut errors) {
        Some(model) => {
            let mut out = expand::expand(&model);
            out.extend(errors.to_compile_errors());
            out
        }
        None => with_errors(item, errors),
    }
}

fn with_errors(item: TokenStream, errors: Errors) -> TokenStream {
    match errors.finish() {
        Ok(()) => item,
        Err(error) => item_with_errors(item, &error),
    }
}
