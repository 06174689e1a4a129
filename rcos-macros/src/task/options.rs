//! Parse: `#[task(name = "srv", daemon, mailbox = 100, overflow = "fail", remote, crate = "...")]`.
//!
//! Each option's value is checked here (its kind and range); how options combine is
//! checked in `validate`.

use proc_macro2::{Span, TokenStream};
use syn::{Ident, LitStr, Path};

use crate::attr::{self, RawOption, Seen};
use crate::diag::Errors;

/// The keys `#[task(...)]` accepts, in the order the docs list them.
pub(crate) const KEYS: &[&str] = &["name", "daemon", "mailbox", "overflow", "remote", "crate"];

/// What a bounded mailbox does with a message that does not fit (`rcos::task::Overflow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OverflowPolicy {
    Wait,
    Fail,
    DropNewest,
}

impl OverflowPolicy {
    /// The accepted spellings, as written in `overflow = "..."`.
    const WORDS: &[(&str, OverflowPolicy)] = &[
        ("wait", OverflowPolicy::Wait),
        ("fail", OverflowPolicy::Fail),
        ("drop_newest", OverflowPolicy::DropNewest),
    ];

    /// The variant's name in `rcos::task::Overflow`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            OverflowPolicy::Wait => "Wait",
            OverflowPolicy::Fail => "Fail",
            OverflowPolicy::DropNewest => "DropNewest",
        }
    }
}

/// The options of one `#[task(...)]`, each as written (for spans). An option whose value
/// was invalid is left unset and its error recorded.
#[derive(Default)]
pub(crate) struct TaskOptions {
    pub(crate) name: Option<LitStr>,
    pub(crate) daemon: bool,
    pub(crate) mailbox: Option<usize>,
    /// The policy, and the `overflow` key (for errors).
    pub(crate) overflow: Option<(OverflowPolicy, Ident)>,
    /// The `remote` key, when the task is remote (its span marks what remote adds).
    pub(crate) remote: Option<Ident>,
    pub(crate) krate: Option<Path>,
}

/// Parses the attribute's arguments. Errors go to `errors`; what is valid is kept, so
/// the expansion can go on and report everything at once.
pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> TaskOptions {
    let mut options = TaskOptions::default();
    let mut seen = Seen::default();
    for option in attr::parse_options(args, errors) {
        if !KEYS.contains(&option.name.as_str()) {
            errors.push(attr::unknown_option(&option, "#[task]", KEYS));
            continue;
        }
        if errors.check(seen.first_time(&option)).is_none() {
            continue;
        }
        set(&mut options, &option, errors);
    }
    options
}

fn set(options: &mut TaskOptions, option: &RawOption, errors: &mut Errors) {
    match option.name.as_str() {
        "name" => options.name = errors.check(attr::non_empty_str(option, "name = \"server\"")),
        "daemon" => options.daemon = errors.check(attr::flag(option)).unwrap_or(false),
        "mailbox" => {
            options.mailbox = errors
                .check(attr::positive_int(option, "mailbox = 100"))
                .map(|(n, _)| n);
        }
        "overflow" => {
            options.overflow = errors
                .check(overflow(option))
                .map(|policy| (policy, option.key.clone()));
        }
        "remote" => {
            if errors.check(attr::flag(option)) == Some(true) {
                options.remote = Some(option.key.clone());
            }
        }
        "crate" => options.krate = errors.check(attr::crate_path(option)),
        _ => errors.push(attr::unknown_option(option, "#[task]", KEYS)),
    }
}

fn overflow(option: &RawOption) -> syn::Result<OverflowPolicy> {
    let (word, span): (String, Span) = attr::word(option, "overflow = \"fail\"")?;
    OverflowPolicy::WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, policy)| *policy)
        .ok_or_else(|| {
            syn::Error::new(
                span,
                format!("unknown overflow policy `{word}`; expected \"wait\", \"fail\" or \"drop_newest\""),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse_ok(tokens: TokenStream) -> TaskOptions {
        let mut errors = Errors::new();
        let options = parse(tokens, &mut errors);
        if let Err(e) = errors.finish() {
            panic!("unexpected error: {e}");
        }
        options
    }

    fn parse_err(tokens: TokenStream) -> (TaskOptions, Vec<String>) {
        let mut errors = Errors::new();
        let options = parse(tokens, &mut errors);
        let messages = errors
            .finish()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        (options, messages)
    }

    #[test]
    fn no_options() {
        let o = parse_ok(TokenStream::new());
        assert!(o.name.is_none() && !o.daemon && o.mailbox.is_none());
        assert!(o.overflow.is_none() && o.remote.is_none() && o.krate.is_none());
    }

    #[test]
    fn every_option() {
        let o = parse_ok(quote!(
            name = "srv",
            daemon,
            mailbox = 100,
            overflow = "fail",
            remote,
            crate = "x::rcos"
        ));
        assert_eq!(o.name.unwrap().value(), "srv");
        assert!(o.daemon);
        assert_eq!(o.mailbox, Some(100));
        assert_eq!(o.overflow.unwrap().0, OverflowPolicy::Fail);
        assert!(o.remote.is_some());
        assert!(o.krate.is_some());
    }

    #[test]
    fn overflow_spellings() {
        for (tokens, policy) in [
            (quote!(overflow = wait), OverflowPolicy::Wait),
            (quote!(overflow = "drop_newest"), OverflowPolicy::DropNewest),
            (quote!(overflow = fail), OverflowPolicy::Fail),
        ] {
            assert_eq!(parse_ok(tokens).overflow.unwrap().0, policy);
        }
        let (o, errors) = parse_err(quote!(overflow = "block"));
        assert!(o.overflow.is_none());
        assert_eq!(
            errors,
            ["unknown overflow policy `block`; expected \"wait\", \"fail\" or \"drop_newest\""]
        );
    }

    #[test]
    fn flags_can_be_turned_off() {
        let o = parse_ok(quote!(daemon = false, remote = false));
        assert!(!o.daemon);
        assert!(o.remote.is_none());
    }

    #[test]
    fn every_error_is_reported_and_valid_options_kept() {
        let (o, errors) = parse_err(quote!(
            name = "",
            deamon,
            mailbox = 0,
            daemon,
            daemon,
            remote = 3
        ));
        assert!(o.daemon, "the valid `daemon` is kept");
        assert!(o.name.is_none() && o.mailbox.is_none() && o.remote.is_none());
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert_eq!(errors[0], "`name` cannot be empty");
        assert!(errors[1].starts_with("unknown #[task] option `deamon`; expected one of: `name`, `daemon`, `mailbox`, `overflow`, `remote`, `crate`"));
        assert!(errors[1].ends_with("(did you mean `daemon`?)"));
        assert_eq!(errors[2], "`mailbox` must be at least 1");
        assert_eq!(errors[3], "`daemon` set multiple times");
        assert!(errors[4].contains("is a flag"));
    }

    #[test]
    fn overflow_variants() {
        assert_eq!(OverflowPolicy::Wait.variant(), "Wait");
        assert_eq!(OverflowPolicy::Fail.variant(), "Fail");
        assert_eq!(OverflowPolicy::DropNewest.variant(), "DropNewest");
    }
}
