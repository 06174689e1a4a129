//! Parse: `#[rcos::main(workers = 2, crate = "...")]`.

use proc_macro2::TokenStream;
use syn::Path;

use crate::attr::{self, Seen};
use crate::diag::Errors;

/// The keys `#[rcos::main(...)]` accepts.
pub(crate) const KEYS: &[&str] = &["workers", "crate"];

/// The options of one `#[rcos::main(...)]`; invalid ones are left unset.
#[derive(Default)]
pub(crate) struct MainOptions {
    pub(crate) workers: Option<usize>,
    pub(crate) krate: Option<Path>,
}

/// Parses the attribute's arguments; problems go to `errors`.
pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> MainOptions {
    let mut options = MainOptions::default();
    let mut seen = Seen::default();
    for option in attr::parse_options(args, errors) {
        if !KEYS.contains(&option.name.as_str()) {
            errors.push(attr::unknown_option(&option, "#[rcos::main]", KEYS));
            continue;
        }
        if errors.check(seen.first_time(&option)).is_none() {
            continue;
        }
        if option.name == "workers" {
            options.workers = errors
                .check(attr::positive_int(&option, "workers = 2"))
                .map(|(n, _)| n);
        } else {
            options.krate = errors.check(attr::crate_path(&option));
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn run(tokens: TokenStream) -> (MainOptions, Vec<String>) {
        let mut errors = Errors::new();
        let options = parse(tokens, &mut errors);
        let errs = errors
            .finish()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        (options, errs)
    }

    #[test]
    fn options() {
        let (o, errs) = run(quote!(workers = 2, crate = "x::rcos"));
        assert!(errs.is_empty());
        assert_eq!(o.workers, Some(2));
        assert!(o.krate.is_some());
        let (o, errs) = run(TokenStream::new());
        assert!(errs.is_empty() && o.workers.is_none() && o.krate.is_none());
    }

    #[test]
    fn errors() {
        let (o, errs) = run(quote!(workers = 0, worker = 1, workers = 2, flavor = "x"));
        assert!(o.workers.is_none());
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert_eq!(errs[0], "`workers` must be at least 1");
        assert_eq!(
            errs[1],
            "unknown #[rcos::main] option `worker`; expected one of: `workers`, `crate` (did you mean `workers`?)"
        );
        assert_eq!(errs[2], "`workers` set multiple times");
        assert!(errs[3].starts_with("unknown #[rcos::main] option `flavor`"));
    }

    #[test]
    fn duplicates() {
        let (o, errs) = run(quote!(workers = 1, workers = 2));
        assert_eq!(o.workers, Some(1));
        assert_eq!(errs, ["`workers` set multiple times"]);
    }
}
