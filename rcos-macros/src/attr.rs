//! Parsing of option lists such as `name = "srv", daemon, mailbox = 100`, shared by
//! `#[task(...)]`, `#[message(...)]` and `#[rcos::main(...)]`.
//!
//! This module only reads the syntax and checks the *kind* of each value (a string, a
//! positive integer, a flag); which keys exist and how they combine is up to each macro.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitInt, LitStr, Meta, Path, Token};

/// One `key`, `key = value` or `key(...)` entry of an option list.
pub(crate) struct RawOption {
    /// The key as written (keywords such as `crate` included).
    pub(crate) key: Ident,
    /// The key as a string, without any `r#`.
    pub(crate) name: String,
    pub(crate) meta: Meta,
}

impl RawOption {
    pub(crate) fn span(&self) -> Span {
        self.key.span()
    }
}

/// Parses a comma-separated option list. Entries whose key is not a plain identifier
/// are reported in `errors` and left out.
pub(crate) fn parse_options(
    tokens: TokenStream,
    errors: &mut crate::diag::Errors,
) -> Vec<RawOption> {
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    let Some(metas) = errors.check(parser.parse2(tokens)) else {
        return Vec::new();
    };
    let mut options = Vec::new();
    for meta in metas {
        let path = meta.path();
        match path.get_ident() {
            Some(key) => {
                let name = syn::ext::IdentExt::unraw(key).to_string();
                options.push(RawOption {
                    key: key.clone(),
                    name,
                    meta,
                });
            }
            None => errors.push(syn::Error::new_spanned(
                path,
                "expected an option name such as `name`, not a path",
            )),
        }
    }
    options
}

/// Remembers which keys were set, to report the second occurrence of a key.
#[derive(Default)]
pub(crate) struct Seen {
    keys: Vec<String>,
}

impl Seen {
    /// `Err` (at the key) if `option`'s key was already seen.
    pub(crate) fn first_time(&mut self, option: &RawOption) -> syn::Result<()> {
        if self.keys.contains(&option.name) {
            return Err(syn::Error::new(
                option.span(),
                format!("`{}` set multiple times", option.name),
            ));
        }
        self.keys.push(option.name.clone());
        Ok(())
    }
}

/// The error for a key the macro does not know, listing the valid ones (and the
/// closest one, when it is a likely typo).
pub(crate) fn unknown_option(option: &RawOption, attribute: &str, valid: &[&str]) -> syn::Error {
    let list = valid
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = closest(&option.name, valid)
        .map(|close| format!(" (did you mean `{close}`?)"))
        .unwrap_or_default();
    let message = format!(
        "unknown {attribute} option `{}`; expected one of: {list}{hint}",
        option.name
    );
    syn::Error::new(option.span(), message)
}

/// The value of `key = value`, or an error if the option was written without one.
pub(crate) fn value<'a>(option: &'a RawOption, example: &str) -> syn::Result<&'a Expr> {
    match &option.meta {
        Meta::NameValue(nv) => Ok(strip_groups(&nv.value)),
        Meta::Path(_) => Err(syn::Error::new(
            option.span(),
            format!("`{}` needs a value, e.g. `{example}`", option.name),
        )),
        Meta::List(list) => Err(syn::Error::new(
            list.delimiter.span().join(),
            format!("expected `=` after `{}`, e.g. `{example}`", option.name),
        )),
    }
}

/// A flag: `key` alone is `true`; `key = true` / `key = false` are accepted too.
pub(crate) fn flag(option: &RawOption) -> syn::Result<bool> {
    match &option.meta {
        Meta::Path(_) => Ok(true),
        Meta::NameValue(nv) => match strip_groups(&nv.value) {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Ok(b.value),
            other => Err(syn::Error::new_spanned(
                other,
                format!(
                    "`{0}` is a flag: write `{0}`, `{0} = true` or `{0} = false`",
                    option.name
                ),
            )),
        },
        Meta::List(list) => Err(syn::Error::new(
            list.delimiter.span().join(),
            format!("`{0}` is a flag: write `{0}` or `{0} = false`", option.name),
        )),
    }
}

/// A non-empty string literal, e.g. `name = "server"`.
pub(crate) fn non_empty_str(option: &RawOption, example: &str) -> syn::Result<LitStr> {
    let expr = value(option, example)?;
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = expr
    else {
        return Err(syn::Error::new_spanned(
            expr,
            format!(
                "`{}` must be a string literal, e.g. `{example}`",
                option.name
            ),
        ));
    };
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{}` cannot be empty", option.name),
        ));
    }
    Ok(lit.clone())
}

/// A positive integer literal that fits a `usize`, e.g. `mailbox = 100`.
pub(crate) fn positive_int(option: &RawOption, example: &str) -> syn::Result<(usize, LitInt)> {
    let expr = value(option, example)?;
    let Expr::Lit(ExprLit {
        lit: Lit::Int(lit), ..
    }) = expr
    else {
        return Err(syn::Error::new_spanned(
            expr,
            format!(
                "`{}` must be a positive integer literal, e.g. `{example}`",
                option.name
            ),
        ));
    };
    if !matches!(lit.suffix(), "" | "usize") {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`{}` is a `usize`: remove the `{}` suffix",
                option.name,
                lit.suffix()
            ),
        ));
    }
    if lit.base10_digits().starts_with('-') {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`{}` must be a positive integer literal, e.g. `{example}`",
                option.name
            ),
        ));
    }
    let n: usize = lit.base10_parse().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!("`{}` is too large for a `usize`", option.name),
        )
    })?;
    if n == 0 {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{}` must be at least 1", option.name),
        ));
    }
    Ok((n, lit.clone()))
}

/// A string literal or a bare identifier, e.g. `overflow = "fail"` or `overflow = fail`,
/// with its span.
pub(crate) fn word(option: &RawOption, example: &str) -> syn::Result<(String, Span)> {
    let expr = value(option, example)?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok((lit.value(), lit.span())),
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => match p.path.get_ident() {
            Some(ident) => Ok((syn::ext::IdentExt::unraw(ident).to_string(), ident.span())),
            None => Err(syn::Error::new_spanned(
                p,
                format!("`{}` must be a single word, e.g. `{example}`", option.name),
            )),
        },
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "`{}` must be a string or a word, e.g. `{example}`",
                option.name
            ),
        )),
    }
}

/// `crate = "path"` (or `crate = path`): the path through which the expansion names rcos.
pub(crate) fn crate_path(option: &RawOption) -> syn::Result<Path> {
    const EXAMPLE: &str = "crate = \"my_reexport::rcos\"";
    let expr = value(option, EXAMPLE)?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.parse_with(Path::parse_mod_style).map_err(|_| {
            syn::Error::new(
                lit.span(),
                format!("`crate` must be a path such as `::rcos`, e.g. `{EXAMPLE}`"),
            )
        }),
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Ok(p.path.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`crate` must be a path, e.g. `{EXAMPLE}`"),
        )),
    }
}

/// The default crate path, `::rcos`.
pub(crate) fn default_crate_path() -> Path {
    syn::parse_quote!(::rcos)
}

/// Looks through the invisible groups a `macro_rules!` caller may wrap values in.
fn strip_groups(mut expr: &Expr) -> &Expr {
    while let Expr::Group(g) = expr {
        expr = &g.expr;
    }
    expr
}

/// The valid key closest to `typo`, if it is close enough to be a likely typo.
fn closest<'a>(typo: &str, valid: &[&'a str]) -> Option<&'a str> {
    valid
        .iter()
        .map(|k| (edit_distance(typo, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, with an adjacent swap counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Errors;
    use quote::quote;

    fn options(tokens: TokenStream) -> Vec<RawOption> {
        let mut errors = Errors::new();
        let options = parse_options(tokens, &mut errors);
        assert!(errors.is_empty(), "unexpected errors");
        options
    }

    fn message(error: &syn::Error) -> String {
        error.to_string()
    }

    #[test]
    fn parses_flags_values_and_keywords() {
        let opts = options(quote!(
            name = "srv",
            daemon,
            mailbox = 100,
            crate = "x::rcos",
            r#remote
        ));
        let names: Vec<&str> = opts.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["name", "daemon", "mailbox", "crate", "remote"]);
        assert_eq!(non_empty_str(&opts[0], "").unwrap().value(), "srv");
        assert!(flag(&opts[1]).unwrap());
        assert_eq!(positive_int(&opts[2], "").unwrap().0, 100);
        let path = crate_path(&opts[3]).unwrap();
        assert_eq!(quote!(#path).to_string(), quote!(x::rcos).to_string());
    }

    #[test]
    fn empty_list_and_trailing_comma() {
        assert!(options(TokenStream::new()).is_empty());
        assert_eq!(options(quote!(daemon,)).len(), 1);
    }

    #[test]
    fn path_keys_are_rejected() {
        let mut errors = Errors::new();
        let opts = parse_options(quote!(a::b = 1, daemon), &mut errors);
        assert_eq!(opts.len(), 1);
        let err = errors.finish().unwrap_err();
        assert!(message(&err).contains("not a path"));
    }

    #[test]
    fn syntax_errors_are_reported() {
        let mut errors = Errors::new();
        let opts = parse_options(quote!(name = ), &mut errors);
        assert!(opts.is_empty());
        assert!(!errors.is_empty());
    }

    #[test]
    fn flags_accept_bools_only() {
        let opts = options(quote!(daemon = false, daemon = 1, daemon(x)));
        assert!(!flag(&opts[0]).unwrap());
        assert!(message(&flag(&opts[1]).unwrap_err()).contains("is a flag"));
        assert!(message(&flag(&opts[2]).unwrap_err()).contains("is a flag"));
    }

    #[test]
    fn strings_must_be_non_empty_literals() {
        let opts = options(quote!(name = "", name = 3, name, name("x")));
        assert_eq!(
            message(&non_empty_str(&opts[0], "").unwrap_err()),
            "`name` cannot be empty"
        );
        assert!(message(&non_empty_str(&opts[1], "").unwrap_err()).contains("string literal"));
        assert!(message(&non_empty_str(&opts[2], "").unwrap_err()).contains("needs a value"));
        assert!(message(&non_empty_str(&opts[3], "").unwrap_err()).contains("expected `=`"));
    }

    #[test]
    fn integers_must_be_positive_usize_literals() {
        let opts = options(quote!(
            mailbox = 0,
            mailbox = -1,
            mailbox = "3",
            mailbox = 5u8,
            mailbox = 7usize,
            mailbox = 99999999999999999999999999
        ));
        assert!(message(&positive_int(&opts[0], "").unwrap_err()).contains("at least 1"));
        assert!(message(&positive_int(&opts[1], "").unwrap_err()).contains("positive integer"));
        assert!(message(&positive_int(&opts[2], "").unwrap_err()).contains("positive integer"));
        assert!(message(&positive_int(&opts[3], "").unwrap_err()).contains("suffix"));
        assert_eq!(positive_int(&opts[4], "").unwrap().0, 7);
        assert!(message(&positive_int(&opts[5], "").unwrap_err()).contains("too large"));
    }

    #[test]
    fn words_are_strings_or_idents() {
        let opts = options(quote!(
            overflow = "fail",
            overflow = drop_newest,
            overflow = a::b,
            overflow = 1
        ));
        assert_eq!(word(&opts[0], "").unwrap().0, "fail");
        assert_eq!(word(&opts[1], "").unwrap().0, "drop_newest");
        assert!(word(&opts[2], "").is_err());
        assert!(word(&opts[3], "").is_err());
    }

    #[test]
    fn crate_paths() {
        let opts = options(quote!(crate = ::rcos, crate = "not a path", crate = 1));
        assert!(crate_path(&opts[0]).is_ok());
        assert!(crate_path(&opts[1]).is_err());
        assert!(crate_path(&opts[2]).is_err());
    }

    #[test]
    fn duplicates_are_reported_at_the_second() {
        let opts = options(quote!(name = "a", daemon, name = "b"));
        let mut seen = Seen::default();
        assert!(seen.first_time(&opts[0]).is_ok());
        assert!(seen.first_time(&opts[1]).is_ok());
        assert_eq!(
            message(&seen.first_time(&opts[2]).unwrap_err()),
            "`name` set multiple times"
        );
    }

    #[test]
    fn unknown_keys_list_the_valid_ones_and_suggest() {
        let valid = ["name", "daemon", "mailbox"];
        let opts = options(quote!(deamon, zzz));
        let typo = message(&unknown_option(&opts[0], "#[task]", &valid));
        assert_eq!(
            typo,
            "unknown #[task] option `deamon`; expected one of: `name`, `daemon`, `mailbox` (did you mean `daemon`?)"
        );
        let far = message(&unknown_option(&opts[1], "#[task]", &valid));
        assert!(!far.contains("did you mean"));
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("daemon", "daemon"), 0);
        assert_eq!(edit_distance("deamon", "daemon"), 1);
        assert_eq!(edit_distance("mailbx", "mailbox"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("remot", &["remote", "name"]), Some("remote"));
        assert_eq!(closest("x", &["name"]), None);
    }
}
