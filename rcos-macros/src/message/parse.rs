//! Parse: the derive input and its `#[message(name = "...", crate = "...")]` attributes.

use syn::{Data, DeriveInput, LitStr, Meta, Path};

use crate::attr::{self, Seen};
use crate::diag::Errors;

/// The keys `#[message(...)]` accepts.
pub(crate) const KEYS: &[&str] = &["name", "crate"];

/// A type deriving `Message`, with its options.
pub(crate) struct MessageInput<'a> {
    pub(crate) input: &'a DeriveInput,
    /// `name = "..."`, if given (and valid).
    pub(crate) name: Option<LitStr>,
    /// `crate = "..."`, if given (and valid).
    pub(crate) krate: Option<Path>,
}

/// Reads every `#[message(...)]` attribute (several may be written; a key may appear
/// only once across them). Problems go to `errors`; valid options are kept.
pub(crate) fn parse<'a>(input: &'a DeriveInput, errors: &mut Errors) -> MessageInput<'a> {
    let mut out = MessageInput {
        input,
        name: None,
        krate: None,
    };
    let mut seen = Seen::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("message")) {
        let tokens = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            Meta::Path(path) => {
                errors.push(syn::Error::new_spanned(
                    path,
                    "expected options: `#[message(name = \"...\")]`",
                ));
                continue;
            }
            Meta::NameValue(nv) => {
                errors.push(syn::Error::new_spanned(
                    nv,
                    "expected `#[message(name = \"...\")]`",
                ));
                continue;
            }
        };
        for option in attr::parse_options(tokens, errors) {
            if !KEYS.contains(&option.name.as_str()) {
                errors.push(attr::unknown_option(&option, "#[message]", KEYS));
                continue;
            }
            if errors.check(seen.first_time(&option)).is_none() {
                continue;
            }
            if option.name == "name" {
                out.name = errors.check(attr::non_empty_str(
                    &option,
                    "name = \"inventory.v2.Restock\"",
                ));
            } else {
                out.krate = errors.check(attr::crate_path(&option));
            }
        }
    }
    if let Data::Union(u) = &input.data {
        errors.push(syn::Error::new(
            u.union_token.span,
            "#[derive(Message)] does not support unions: a message must be serializable; use an enum",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn messages(input: &DeriveInput) -> (Option<String>, bool, Vec<String>) {
        let mut errors = Errors::new();
        let parsed = parse(input, &mut errors);
        let errs = errors
            .finish()
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        (parsed.name.map(|n| n.value()), parsed.krate.is_some(), errs)
    }

    #[test]
    fn no_attribute() {
        let input: DeriveInput = parse_quote!(
            struct S(u32);
        );
        assert_eq!(messages(&input), (None, false, vec![]));
    }

    #[test]
    fn name_and_crate_across_attributes() {
        let input: DeriveInput = parse_quote! {
            #[message(name = "inventory.v2.Restock")]
            #[serde(rename = "x")]
            #[message(crate = "my::rcos")]
            struct Restock(u32);
        };
        assert_eq!(
            messages(&input),
            (Some("inventory.v2.Restock".into()), true, vec![])
        );
    }

    #[test]
    fn errors() {
        let input: DeriveInput = parse_quote! {
            #[message(name = "")]
            #[message(nmae = "x", crate = 1)]
            #[message]
            #[message(crate = "a", crate = "b")]
            union U { a: u8 }
        };
        let (_, _, errs) = messages(&input);
        // `crate = 1` counts as set: the two later ones are both duplicates.
        assert_eq!(errs.len(), 7, "{errs:?}");
        assert_eq!(errs[0], "`name` cannot be empty");
        assert_eq!(
            errs[1],
            "unknown #[message] option `nmae`; expected one of: `name`, `crate` (did you mean `name`?)"
        );
        assert!(errs[2].starts_with("`crate` must be a path"));
        assert!(errs[3].starts_with("expected options"));
        assert_eq!(errs[4], "`crate` set multiple times");
        assert_eq!(errs[5], "`crate` set multiple times");
        assert!(errs[6].contains("unions"));
    }
}
