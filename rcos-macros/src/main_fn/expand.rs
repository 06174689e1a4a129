//! Expand: a synchronous fn that runs the async body on a fresh default runtime.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::options::MainOptions;
use crate::item::FnItem;

/// `fn main() -> R { async fn main() -> R { body } main_entry(workers, main()) }`.
///
/// The body runs as its own `async fn` with the user's return type, so `?` and `return`
/// mean exactly what they mean in the user's code.
pub(crate) fn expand(item: &FnItem, options: &MainOptions) -> TokenStream {
    let default_krate = crate::attr::default_crate_path();
    let krate = options.krate.as_ref().unwrap_or(&default_krate);
    let attrs = &item.attrs;
    let vis = &item.vis;
    let mut outer_sig = item.sig.clone();
    outer_sig.asyncness = None;
    let inner_sig = &item.sig;
    let ident = &item.sig.ident;
    let body = &item.body;
    let workers = options.workers.map_or_else(
        || quote!(::core::option::Option::None),
        |n| quote!(::core::option::Option::Some(#n)),
    );
    // At the `async` token, so "future cannot be sent between threads" points at it.
    let span = item
        .sig
        .asyncness
        .map_or_else(proc_macro2::Span::call_site, |a| a.span);
    let run = quote_spanned! {span=>
        #krate::__private::main_entry(#workers, #ident())
    };
    quote! {
        #(#attrs)*
        #vis #outer_sig {
            #inner_sig #body
            #run
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Errors;
    use crate::item::parse_fn;
    use crate::main_fn::options;

    #[test]
    fn expansion() {
        let item = parse_fn(
            quote!(
                #[doc = "x"]
                pub async fn main() -> Result<(), E> {
                    Ok(())
                }
            ),
            "#[rcos::main]",
        )
        .unwrap();
        let mut errors = Errors::new();
        let opts = options::parse(quote!(workers = 2), &mut errors);
        let out = expand(&item, &opts).to_string();
        let expected = quote! {
            #[doc = "x"]
            pub fn main() -> Result<(), E> {
                async fn main() -> Result<(), E> { Ok(()) }
                ::rcos::__private::main_entry(::core::option::Option::Some(2usize), main())
            }
        };
        assert_eq!(out, expected.to_string());
    }

    #[test]
    fn crate_path_and_default_workers() {
        let item = parse_fn(
            quote!(
                async fn run() {}
            ),
            "#[rcos::main]",
        )
        .unwrap();
        let mut errors = Errors::new();
        let opts = options::parse(quote!(crate = "my::rcos"), &mut errors);
        let out = expand(&item, &opts).to_string();
        assert!(out.contains("my :: rcos :: __private :: main_entry (:: core :: option :: Option :: None , run ())"), "{out}");
    }
}
