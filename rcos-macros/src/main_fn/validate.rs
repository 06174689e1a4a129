//! Validate: the signature `#[rcos::main]` accepts.

use crate::diag::Errors;
use crate::item::FnItem;

/// Checks the signature; returns whether it can be expanded. Problems go to `errors`.
pub(crate) fn validate(item: &FnItem, errors: &mut Errors) -> bool {
    let sig = &item.sig;
    let mut sig_errors = Errors::new();
    if sig.asyncness.is_none() {
        sig_errors.push(syn::Error::new(
            sig.fn_token.span,
            "the `async` keyword is missing from the function declaration",
        ));
    }
    if let Some(token) = &sig.constness {
        sig_errors.push(syn::Error::new(
            token.span,
            "#[rcos::main] fns cannot be `const`",
        ));
    }
    if let Some(token) = &sig.unsafety {
        sig_errors.push(syn::Error::new(
            token.span,
            "#[rcos::main] fns cannot be `unsafe`",
        ));
    }
    if let Some(abi) = &sig.abi {
        sig_errors.push(syn::Error::new_spanned(
            abi,
            "#[rcos::main] fns cannot be `extern`",
        ));
    }
    if !sig.generics.params.is_empty() {
        sig_errors.push(syn::Error::new_spanned(
            &sig.generics,
            "#[rcos::main] fns cannot be generic",
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        sig_errors.push(syn::Error::new_spanned(
            where_clause,
            "#[rcos::main] fns cannot be generic: remove the `where` clause",
        ));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        sig_errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "#[rcos::main] fns take no parameters (read arguments with `std::env::args()`)",
        ));
    }
    let ok = sig_errors.is_empty();
    errors.append(sig_errors);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::parse_fn;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn errors(item: TokenStream) -> Vec<String> {
        let item = parse_fn(item, "#[rcos::main]").unwrap();
        let mut errors = Errors::new();
        let ok = validate(&item, &mut errors);
        let errs: Vec<String> = errors
            .finish()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        assert_eq!(ok, errs.is_empty());
        errs
    }

    #[test]
    fn accepted() {
        assert!(
            errors(quote!(
                async fn main() {}
            ))
            .is_empty()
        );
        assert!(
            errors(quote!(
                pub async fn run() -> Result<(), String> {
                    Ok(())
                }
            ))
            .is_empty()
        );
    }

    #[test]
    fn rejected() {
        assert_eq!(
            errors(quote!(
                fn main() {}
            )),
            ["the `async` keyword is missing from the function declaration"]
        );
        assert!(
            errors(quote!(
                async fn main(x: u8) {}
            ))[0]
                .contains("take no parameters")
        );
        assert!(
            errors(quote!(
                async fn main<T>() {}
            ))[0]
                .contains("cannot be generic")
        );
        assert!(
            errors(quote!(
                async fn main()
                where
                    u8: Copy,
                {
                }
            ))[0]
                .contains("cannot be generic")
        );
        assert!(
            errors(quote!(
                async unsafe fn main() {}
            ))[0]
                .contains("`unsafe`")
        );
        assert!(
            errors(quote!(
                const async fn main() {}
            ))[0]
                .contains("`const`")
        );
        assert!(
            errors(quote!(
                async extern "C" fn main() {}
            ))[0]
                .contains("`extern`")
        );
        assert_eq!(
            errors(quote!(
                unsafe fn main<T>(x: T) {}
            ))
            .len(),
            4
        );
    }
}
