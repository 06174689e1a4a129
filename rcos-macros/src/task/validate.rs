//! Validate: checks a `#[task]` fn's signature and options, and builds the model the
//! expansion works from.

use proc_macro2::Span;
use syn::{FnArg, Pat, PatType, Path, Signature, Type};

use super::options::{OverflowPolicy, TaskOptions};
use crate::diag::Errors;
use crate::item::FnItem;
use crate::types::{self, TypeProblem};

/// The most arguments a `remote` task can take: its arguments travel as one tuple,
/// and tuples are messages up to this length.
pub(crate) const MAX_REMOTE_ARGS: usize = 12;

/// A checked `#[task]` fn.
pub(crate) struct TaskModel<'a> {
    pub(crate) item: &'a FnItem,
    /// The arguments the caller supplies, in order (every parameter but the `TaskRef`).
    pub(crate) args: Vec<Arg<'a>>,
    /// Where the `TaskRef` parameter is among all parameters.
    pub(crate) task_position: usize,
    /// The output type (`()` when the fn declares none).
    pub(crate) output: Type,
    pub(crate) config: Config,
}

/// One argument of a task fn.
pub(crate) struct Arg<'a> {
    pub(crate) pat: &'a Pat,
    pub(crate) ty: &'a Type,
}

/// The task's options, resolved.
pub(crate) struct Config {
    /// `TaskFn::NAME`.
    pub(crate) name: String,
    pub(crate) daemon: bool,
    pub(crate) mailbox: Option<(usize, OverflowPolicy)>,
    /// Set for `remote` tasks: the span of the `remote` key.
    pub(crate) remote: Option<Span>,
    /// The path to rcos (`::rcos` unless `crate = "..."`).
    pub(crate) krate: Path,
}

/// Resolves the options; problems in how they combine go to `errors` and the offending
/// option is dropped.
pub(crate) fn config(item: &FnItem, options: TaskOptions, errors: &mut Errors) -> Config {
    let mailbox = match (options.mailbox, options.overflow) {
        (Some(capacity), overflow) => {
            Some((capacity, overflow.map_or(OverflowPolicy::Wait, |(p, _)| p)))
        }
        (None, Some((_, key))) => {
            errors.push(syn::Error::new(
                key.span(),
                "`overflow` applies to a bounded mailbox: add `mailbox = N` (mailboxes are unbounded by default)",
            ));
            None
        }
        (None, None) => None,
    };
    Config {
        name: options.name.map_or_else(
            || syn::ext::IdentExt::unraw(&item.sig.ident).to_string(),
            |n| n.value(),
        ),
        daemon: options.daemon,
        mailbox,
        remote: options.remote.map(|key| key.span()),
        krate: options
            .krate
            .unwrap_or_else(crate::attr::default_crate_path),
    }
}

/// Checks the signature. On success the model is returned; otherwise every problem is
/// added to `errors` and there is no model.
pub(crate) fn validate<'a>(
    item: &'a FnItem,
    config: Config,
    errors: &mut Errors,
) -> Option<TaskModel<'a>> {
    let sig = &item.sig;
    let mut sig_errors = Errors::new();
    qualifiers(sig, &mut sig_errors);
    let (args, task_position) = parameters(sig, &mut sig_errors);
    let output = types::output_type(&sig.output);
    type_problems(&output, "output", &mut sig_errors);
    if let Some(remote) = config.remote {
        if args.len() > MAX_REMOTE_ARGS {
            sig_errors.push(syn::Error::new(
                remote,
                format!(
                    "a `remote` #[task] fn takes at most {MAX_REMOTE_ARGS} arguments besides its `TaskRef` \
                     (they travel as one tuple); group them in a #[derive(Message)] struct"
                ),
            ));
        }
    }
    let ok = sig_errors.is_empty();
    errors.append(sig_errors);
    match task_position {
        Some(task_position) if ok => Some(TaskModel {
            item,
            args,
            task_position,
            output,
            config,
        }),
        _ => None,
    }
}

/// Everything but the parameters and the output: `async`, and no `const`, `unsafe`,
/// `extern`, variadic or generics.
fn qualifiers(sig: &Signature, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "the `async` keyword is missing from the function declaration",
        ));
    }
    if let Some(token) = &sig.constness {
        errors.push(syn::Error::new(token.span, "#[task] fns cannot be `const`"));
    }
    if let Some(token) = &sig.unsafety {
        errors.push(syn::Error::new(
            token.span,
            "#[task] fns cannot be `unsafe`: the runtime calls them and cannot uphold a safety contract",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "#[task] fns cannot be `extern`",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "#[task] fns cannot be variadic",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "#[task] fns cannot be generic: a task fn is one type with concrete argument and output types; \
             make a #[task] fn per type, or spawn a closure with `rcos::spawn`",
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            "#[task] fns cannot be generic: remove the `where` clause",
        ));
    }
}

/// Finds the task's own `TaskRef` parameter and checks the others, which become the
/// arguments.
///
/// With one `TaskRef` parameter, that is the task's own. With several, the one named
/// `task` (or `_task`) is; the others are ordinary arguments (references to other
/// tasks, such as a server or a reply-to).
fn parameters<'a>(sig: &'a Signature, errors: &mut Errors) -> (Vec<Arg<'a>>, Option<usize>) {
    let task_refs: Vec<(usize, &PatType)> = sig
        .inputs
        .iter()
        .enumerate()
        .filter_map(|(position, input)| match input {
            FnArg::Typed(typed) if types::is_task_ref(&typed.ty) => Some((position, typed)),
            _ => None,
        })
        .collect();
    let own = match task_refs.as_slice() {
        [] => None,
        [(position, _)] => Some(*position),
        several => {
            let named: Vec<usize> = several
                .iter()
                .filter(|(_, typed)| is_named_task(&typed.pat))
                .map(|(position, _)| *position)
                .collect();
            match named.as_slice() {
                [position] => Some(*position),
                _ => {
                    errors.push(syn::Error::new_spanned(
                        several[1].1,
                        "a #[task] fn with several `TaskRef` parameters must name its own one `task`; \
                         the others are ordinary arguments (references to other tasks)",
                    ));
                    Some(several[0].0)
                }
            }
        }
    };
    let mut args = Vec::new();
    let mut task_ref_ref = None;
    for (position, input) in sig.inputs.iter().enumerate() {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                errors.push(syn::Error::new_spanned(
                    receiver,
                    "#[task] fns cannot take `self`: a task fn is a free function; \
                     give it its state as arguments",
                ));
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        for attr in &typed.attrs {
            if attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr") {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "#[task] fns cannot have conditional parameters: the arguments are part of the task's type",
                ));
            }
        }
        if Some(position) == own {
            continue;
        }
        if types::is_task_ref_ref(&typed.ty) && task_ref_ref.is_none() {
            // Reported below: either as the `TaskRef` taken by reference, or as a borrow.
            task_ref_ref = Some(typed);
        } else if !types::is_task_ref(&typed.ty) {
            type_problems(&typed.ty, "argument", errors);
        }
        args.push(Arg {
            pat: &typed.pat,
            ty: &typed.ty,
        });
    }
    match (own, task_ref_ref) {
        (None, Some(typed)) => errors.push(syn::Error::new_spanned(
            typed,
            "a #[task] fn takes its own `TaskRef` by value, e.g. `task: TaskRef`",
        )),
        (None, None) => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "a #[task] fn takes its own `TaskRef` as a parameter, e.g. `task: TaskRef`",
        )),
        (Some(_), Some(typed)) => type_problems(&typed.ty, "argument", errors),
        (Some(_), None) => {}
    }
    (args, own)
}

/// Whether a parameter pattern is the plain name `task` (or `_task`, `mut task`).
fn is_named_task(pat: &Pat) -> bool {
    match pat {
        Pat::Ident(ident) => ident.ident == "task" || ident.ident == "_task",
        _ => false,
    }
}

fn type_problems(ty: &Type, what: &str, errors: &mut Errors) {
    for problem in types::problems(ty) {
        errors.push(match problem {
            TypeProblem::ImplTrait(span) => syn::Error::new(
                span,
                format!(
                    "#[task] fns cannot use `impl Trait` in an {what} type: the task fn is one concrete type; \
                     name the type (or box it: `Box<dyn Trait + Send>`)"
                ),
            ),
            TypeProblem::Borrow(span) => syn::Error::new(
                span,
                format!(
                    "a task outlives the call that spawns it, so its {what} cannot borrow: \
                     use an owned type (`String`, `Vec<T>`, `Arc<T>`) or `&'static`"
                ),
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::parse_fn;
    use crate::task::options;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn check(
        args: TokenStream,
        item: TokenStream,
    ) -> Result<(String, usize, usize, String), Vec<String>> {
        let mut errors = Errors::new();
        let opts = options::parse(args, &mut errors);
        let item = parse_fn(item, "#[task]").unwrap();
        let config = config(&item, opts, &mut errors);
        let model = validate(&item, config, &mut errors);
        match (model, errors.finish()) {
            (Some(m), Ok(())) => {
                let output = &m.output;
                Ok((
                    m.config.name.clone(),
                    m.args.len(),
                    m.task_position,
                    quote!(#output).to_string(),
                ))
            }
            (_, Err(e)) => Err(e.into_iter().map(|e| e.to_string()).collect()),
            (None, Ok(())) => panic!("no model and no error"),
        }
    }

    fn errors(args: TokenStream, item: TokenStream) -> Vec<String> {
        check(args, item).expect_err("expected errors")
    }

    #[test]
    fn task_ref_anywhere() {
        let first = check(
            quote!(),
            quote!(
                async fn f(task: TaskRef, a: u8, b: u8) -> u8 {
                    a
                }
            ),
        )
        .unwrap();
        assert_eq!(first, ("f".into(), 2, 0, "u8".into()));
        let middle = check(
            quote!(),
            quote!(
                async fn g(a: u8, t: rcos::TaskRef, b: u8) {}
            ),
        )
        .unwrap();
        assert_eq!(middle, ("g".into(), 2, 1, "()".into()));
        let last = check(
            quote!(),
            quote!(
                async fn h((a, b): (u8, u8), mut t: ::rcos::TaskRef) {}
            ),
        )
        .unwrap();
        assert_eq!(last, ("h".into(), 1, 1, "()".into()));
    }

    #[test]
    fn name_option_and_raw_idents() {
        assert_eq!(
            check(
                quote!(name = "srv"),
                quote!(
                    async fn f(t: TaskRef) {}
                )
            )
            .unwrap()
            .0,
            "srv"
        );
        assert_eq!(
            check(
                quote!(),
                quote!(
                    async fn r#type(t: TaskRef) {}
                )
            )
            .unwrap()
            .0,
            "type"
        );
    }

    /// The first error for an item with no options.
    fn first_error(item: TokenStream) -> String {
        errors(TokenStream::new(), item).remove(0)
    }

    #[test]
    fn signature_errors() {
        let exact: [(TokenStream, &str); 3] = [
            (
                quote! { fn f(t: TaskRef) {} },
                "the `async` keyword is missing from the function declaration",
            ),
            (
                quote! { async fn f() {} },
                "a #[task] fn takes its own `TaskRef` as a parameter, e.g. `task: TaskRef`",
            ),
            (
                quote! { async fn f(t: &TaskRef) {} },
                "a #[task] fn takes its own `TaskRef` by value, e.g. `task: TaskRef`",
            ),
        ];
        for (item, message) in exact {
            assert_eq!(first_error(item), message);
        }
        let contains: [(TokenStream, &str); 13] = [
            (
                quote! { async fn f(t: TaskRef, u: TaskRef) {} },
                "must name its own one `task`",
            ),
            (
                quote! { async fn f<T>(t: TaskRef, x: T) {} },
                "cannot be generic",
            ),
            (
                quote! { async fn f<'a>(t: TaskRef) {} },
                "cannot be generic",
            ),
            (
                quote! { async fn f(t: TaskRef) where u8: Copy {} },
                "cannot be generic",
            ),
            (
                quote! { async fn f(&self, t: TaskRef) {} },
                "cannot take `self`",
            ),
            (quote! { const async fn f(t: TaskRef) {} }, "`const`"),
            (quote! { async unsafe fn f(t: TaskRef) {} }, "`unsafe`"),
            (quote! { async extern "C" fn f(t: TaskRef) {} }, "`extern`"),
            (quote! { async fn f(t: TaskRef, ...) {} }, "variadic"),
            (
                quote! { async fn f(t: TaskRef, x: impl Send) {} },
                "`impl Trait` in an argument",
            ),
            (
                quote! { async fn f(t: TaskRef) -> impl Send {} },
                "`impl Trait` in an output",
            ),
            (
                quote! { async fn f(t: TaskRef, s: &str) {} },
                "cannot borrow",
            ),
            (
                quote! { async fn f(t: TaskRef, #[cfg(x)] s: u8) {} },
                "conditional",
            ),
        ];
        for (item, part) in contains {
            let error = first_error(item);
            assert!(error.contains(part), "`{error}` does not mention {part}");
        }
    }

    #[test]
    fn all_signature_errors_at_once() {
        let all = errors(
            quote!(),
            quote!(
                unsafe fn f<T>(&self, x: impl Send) {}
            ),
        );
        // not async, unsafe, generic, self, impl Trait, and no `TaskRef`.
        assert_eq!(all.len(), 6, "{all:?}");
    }

    #[test]
    fn option_combinations() {
        let e = errors(
            quote!(overflow = "fail"),
            quote!(
                async fn f(t: TaskRef) {}
            ),
        );
        assert!(e[0].starts_with("`overflow` applies to a bounded mailbox"));
        let mut errors_ = Errors::new();
        let item = parse_fn(
            quote!(
                async fn f(t: TaskRef) {}
            ),
            "#[task]",
        )
        .unwrap();
        let opts = options::parse(quote!(mailbox = 4), &mut errors_);
        let config = config(&item, opts, &mut errors_);
        assert_eq!(config.mailbox, Some((4, OverflowPolicy::Wait)));
    }

    #[test]
    fn remote_argument_limit() {
        let ok = quote!(
            async fn f(
                t: TaskRef,
                a: u8,
                b: u8,
                c: u8,
                d: u8,
                e: u8,
                f: u8,
                g: u8,
                h: u8,
                i: u8,
                j: u8,
                k: u8,
                l: u8,
            ) {
            }
        );
        assert!(check(quote!(remote), ok).is_ok());
        let too_many = quote!(
            async fn f(
                t: TaskRef,
                a: u8,
                b: u8,
                c: u8,
                d: u8,
                e: u8,
                f: u8,
                g: u8,
                h: u8,
                i: u8,
                j: u8,
                k: u8,
                l: u8,
                m: u8,
            ) {
            }
        );
        assert!(errors(quote!(remote), too_many.clone())[0].contains("at most 12 arguments"));
        assert!(
            check(quote!(), too_many).is_ok(),
            "local tasks have no limit"
        );
    }
}
