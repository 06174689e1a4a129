//! Expand: generates the task struct, its `spawn` / `spawn_on`, the `TaskFn` impl, and
//! for `remote` tasks the message checks and the registration.

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Pat, ReturnType};

use super::validate::{Arg, TaskModel};
use crate::item::{AttrKind, attr_kind};

/// The user's attributes, sorted by where they go.
#[derive(Default)]
struct Attrs<'a> {
    /// On the struct only.
    doc: Vec<&'a Attribute>,
    /// On every generated item.
    cfg: Vec<&'a Attribute>,
    /// On the struct and the body (`#[expect]` on the body only, where the lint fires).
    lint: Vec<&'a Attribute>,
    /// On the body.
    body: Vec<&'a Attribute>,
    /// `#[deprecated]`, on the struct (so every use of the task warns).
    deprecated: Vec<&'a Attribute>,
}

fn sort_attrs(attrs: &[Attribute]) -> Attrs<'_> {
    let mut out = Attrs::default();
    for attr in attrs {
        match attr_kind(attr) {
            AttrKind::Doc => out.doc.push(attr),
            AttrKind::Cfg => out.cfg.push(attr),
            AttrKind::Lint if attr.path().is_ident("expect") => out.body.push(attr),
            AttrKind::Lint => {
                out.lint.push(attr);
                out.body.push(attr);
            }
            AttrKind::Deprecated => out.deprecated.push(attr),
            AttrKind::Other => out.body.push(attr),
        }
    }
    out
}

/// The name of a parameter in `spawn`'s signature: the user's own when the pattern is a
/// plain identifier, else `argN`. A leading `_` is dropped (the parameter *is* used by
/// `spawn`). Generated names are hygienic, so they cannot clash with the user's.
fn spawn_param_name(arg: &Arg<'_>, index: usize) -> Ident {
    match arg.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
            let name = syn::ext::IdentExt::unraw(&p.ident).to_string();
            if !name.starts_with('_') {
                p.ident.clone()
            } else if name.trim_start_matches('_').is_empty() {
                Ident::new(&format!("arg{index}"), Span::mixed_site())
            } else {
                Ident::new(name.trim_start_matches('_'), Span::mixed_site())
            }
        }
        _ => Ident::new(&format!("arg{index}"), Span::mixed_site()),
    }
}

/// Generates everything `#[task]` turns the fn into.
pub(crate) fn expand(model: &TaskModel<'_>) -> TokenStream {
    let item = model.item;
    let vis = &item.vis;
    let ident = &item.sig.ident;
    let attrs = sort_attrs(&item.attrs);
    let Attrs {
        doc,
        cfg,
        lint,
        deprecated,
        ..
    } = &attrs;
    // The generated impls name the deprecated struct (their headers too); only the user's
    // uses should warn. (The body, inside the inherent impl, is then allowed too.)
    let allow_deprecated = (!deprecated.is_empty()).then(|| quote!(#[allow(deprecated)]));
    let inherent = inherent_impl(model, &attrs);
    let task_fn = task_fn_impl(model);
    let remote = remote(model);
    // At the fn's name, so that lints on the struct (`missing_docs`) point at it.
    let struct_vis = respan(vis.to_token_stream(), ident.span());
    // A braced struct lives only in the type namespace; the value namespace gets a
    // constructor fn of the same name, which is what callers pass where a task fn is
    // expected (`hot_swap(server, ..)`, `spawn_at(at, server, ..)`). A fn, unlike a
    // unit struct, can be shadowed: `let server = server::spawn()` works.
    let struct_item = quote_spanned! {ident.span()=> #struct_vis struct #ident {} };
    let shown = syn::ext::IdentExt::unraw(ident).to_string();
    let ctor_doc = format!(
        "The `{shown}` task as a value, for where a task fn is expected \
         (`TaskRef::hot_swap`, `Handle::spawn_at`, `ChildSpec::task`)."
    );
    let ctor_item = quote_spanned! {ident.span()=>
        #[doc = #ctor_doc]
        #[allow(dead_code)]
        #[must_use]
        #struct_vis fn #ident() -> #ident { #ident {} }
    };
    quote! {
        #(#doc)*
        #(#cfg)*
        #(#lint)*
        #(#deprecated)*
        #[allow(non_camel_case_types)]
        #[derive(
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::fmt::Debug,
            ::core::default::Default
        )]
        #struct_item

        #(#cfg)*
        #allow_deprecated
        #ctor_item

        #(#cfg)*
        #allow_deprecated
        #inherent

        #(#cfg)*
        #allow_deprecated
        #task_fn

        #remote
    }
}

/// The name of the body fn: the fn's own name (so `tracing::instrument` spans and
/// compiler messages name it), unless that would clash with `spawn` / `spawn_on`.
fn body_ident(model: &TaskModel<'_>) -> Ident {
    let ident = &model.item.sig.ident;
    if ident == "spawn" || ident == "spawn_on" {
        format_ident!("__rcos_{}_body", ident)
    } else {
        ident.clone()
    }
}

/// `impl server { spawn, spawn_on, the body }`.
fn inherent_impl(model: &TaskModel<'_>, attrs: &Attrs<'_>) -> TokenStream {
    let item = model.item;
    let krate = &model.config.krate;
    let vis = &item.vis;
    let ident = &item.sig.ident;
    let shown = syn::ext::IdentExt::unraw(ident).to_string();
    let body_attrs = &attrs.body;
    let mut body_sig = item.sig.clone();
    body_sig.ident = body_ident(model);
    let body = &item.body;

    let arg_types: Vec<_> = model.args.iter().map(|a| a.ty).collect();
    let names: Vec<Ident> = model
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| spawn_param_name(a, i))
        .collect();
    let handle = Ident::new("handle", Span::mixed_site());

    let takes = if names.is_empty() {
        format!(
            "`{shown}` takes no arguments besides its own `TaskRef`, which the runtime supplies."
        )
    } else {
        let listed: Vec<String> = names
            .iter()
            .map(|n| format!("`{}`", syn::ext::IdentExt::unraw(n)))
            .collect();
        format!(
            "Takes the arguments of `{shown}` ({}), in order; the task's own `TaskRef` is supplied \
             by the runtime.",
            listed.join(", ")
        )
    };
    let returns = "Returns the new task's `TaskRef`.";
    let spawn_summary = format!(
        "Spawns `{shown}` as a new task on the caller's runtime (the default runtime when called \
         outside any)."
    );
    let spawn_on_summary =
        format!("Spawns `{shown}` as a new task on the runtime `handle` refers to.");
    let details = format!("{takes} {returns}");
    quote! {
        impl #ident {
            #[doc = #spawn_summary]
            #[doc = ""]
            #[doc = #details]
            #[allow(dead_code, clippy::too_many_arguments)]
            #vis fn spawn(#(#names: #arg_types),*) -> #krate::TaskRef {
                #krate::task::Builder::new().spawn_fn(#ident, (#(#names,)*))
            }

            #[doc = #spawn_on_summary]
            #[doc = ""]
            #[doc = #details]
            #[allow(dead_code, clippy::too_many_arguments)]
            #vis fn spawn_on(#handle: &#krate::Handle, #(#names: #arg_types),*) -> #krate::TaskRef {
                #krate::task::Builder::new().spawn_fn_on(#handle, #ident, (#(#names,)*))
            }

            #[allow(clippy::unused_async)] // `#[task]` requires `async`; the user's attributes come after
            #(#body_attrs)*
            #body_sig #body
        }
    }
}

/// `impl TaskFn for server`.
fn task_fn_impl(model: &TaskModel<'_>) -> TokenStream {
    let krate = &model.config.krate;
    let ident = &model.item.sig.ident;
    let body_ident = body_ident(model);
    let arg_types: Vec<_> = model.args.iter().map(|a| a.ty).collect();
    let output_ty = &model.output;
    let name = &model.config.name;
    let configure = configure(model);
    let names: Vec<Ident> = (0..model.args.len())
        .map(|i| Ident::new(&format!("arg{i}"), Span::mixed_site()))
        .collect();
    let task = Ident::new("task", Span::mixed_site());
    // `body(arg0, task, arg1)`: the `TaskRef` goes back where the user declared it.
    let mut body_args: Vec<&Ident> = names.iter().collect();
    body_args.insert(model.task_position, &task);
    // Where the compiler's errors about these items point: a non-`Send` argument at the
    // parameter list, a non-`Send` output at the output type, a non-`Send` future at the
    // fn's name (with notes pointing into the body).
    let sig = &model.item.sig;
    let args_item = quote_spanned! {sig.paren_token.span.join()=>
        type Args = (#(#arg_types,)*);
    };
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => ident.span(),
    };
    let output_item = quote_spanned! {output_span=>
        type Output = #output_ty;
    };
    let call = quote_spanned! {ident.span()=>
        fn call(
            self,
            #task: #krate::TaskRef,
            (#(#names,)*): Self::Args,
        ) -> impl ::core::future::Future<Output = Self::Output> + ::core::marker::Send + 'static {
            #ident::#body_ident(#(#body_args),*)
        }
    };
    quote! {
        #[automatically_derived]
        impl #krate::TaskFn for #ident {
            #args_item
            #output_item
            const NAME: &'static str = #name;

            #configure

            #call

            fn output_value(output: Self::Output) -> #krate::task::Value {
                #[allow(unused_imports)]
                use #krate::__private::{ViaLocal as _, ViaMessage as _};
                (&mut #krate::__private::OutputWrap(::core::option::Option::Some(output))).__rcos_into_value()
            }
        }
    }
}

/// `TaskFn::configure`, when an option changes the builder.
fn configure(model: &TaskModel<'_>) -> TokenStream {
    let krate = &model.config.krate;
    let daemon = model.config.daemon.then(|| quote!(.daemon(true)));
    let mailbox = model.config.mailbox.map(|(capacity, policy)| {
        let variant = Ident::new(policy.variant(), Span::call_site());
        quote!(.mailbox(#capacity, #krate::task::Overflow::#variant))
    });
    if daemon.is_none() && mailbox.is_none() {
        return TokenStream::new();
    }
    let builder = Ident::new("builder", Span::mixed_site());
    quote! {
        fn configure(#builder: #krate::task::Builder) -> #krate::task::Builder {
            #builder #daemon #mailbox
        }
    }
}

/// For `remote` tasks: a check that each argument type and the output type is a
/// message (each at that type, so the compiler's error points at it), the
/// `RemoteTaskFn` impl and the registration (at the `remote` key).
fn remote(model: &TaskModel<'_>) -> TokenStream {
    let Some(remote) = model.config.remote else {
        return TokenStream::new();
    };
    let krate = &model.config.krate;
    let ident = &model.item.sig.ident;
    let cfg: Vec<&Attribute> = model
        .item
        .attrs
        .iter()
        .filter(|a| attr_kind(a) == AttrKind::Cfg)
        .collect();
    let checks = model
        .args
        .iter()
        .map(|a| a.ty)
        .chain(std::iter::once(&model.output))
        .map(|ty| {
            let span = ty.span();
            quote_spanned! {span=> #krate::__private::assert_message::<#ty>(); }
        });
    // The impl is entirely at the `remote` key: if an argument is not a message, the
    // error it causes points there (next to the one at the argument's type).
    let remote_krate = respan(krate.to_token_stream(), remote);
    let mut remote_ident = ident.clone();
    remote_ident.set_span(remote);
    let remote_impl = quote_spanned! {remote=>
        #[automatically_derived]
        impl #remote_krate::task::RemoteTaskFn for #remote_ident {}
    };
    let allow_deprecated = model
        .item
        .attrs
        .iter()
        .any(|a| attr_kind(a) == AttrKind::Deprecated)
        .then(|| quote!(#[allow(deprecated)]));
    quote_spanned! {remote=>
        #(#cfg)*
        #allow_deprecated
        const _: () = {
            #(#checks)*

            #krate::__private::inventory::submit! {
                #krate::__private::RemoteTaskEntry::new::<#ident>()
            }
        };

        #(#cfg)*
        #allow_deprecated
        #remote_impl
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), respan(group.stream(), span));
                new.set_span(span);
                TokenTree::Group(new)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Errors;
    use crate::item::parse_fn;
    use crate::task::{options, validate};

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        let mut errors = Errors::new();
        let opts = options::parse(args, &mut errors);
        let item = parse_fn(item, "#[task]").unwrap();
        let config = validate::config(&item, opts, &mut errors);
        let model = validate::validate(&item, config, &mut errors).unwrap();
        assert!(errors.is_empty());
        expand(&model).to_string()
    }

    #[test]
    fn generates_struct_spawn_and_impl() {
        let out = expand_str(
            quote!(name = "srv", daemon, mailbox = 100, overflow = "fail"),
            quote! {
                /// Docs.
                #[tracing::instrument]
                pub async fn server(task: TaskRef, greeting: String, count: u32) -> u64 { 1 }
            },
        );
        // Compared without whitespace, so that spacing does not matter.
        let squeezed = out.replace(' ', "");
        let has = |s: &str| {
            assert!(
                squeezed.contains(&s.replace(' ', "")),
                "missing `{s}` in\n{out}"
            );
        };
        has(r#"#[doc = r" Docs."]"#);
        has("pub struct server {}");
        has("pub fn spawn(greeting: String, count: u32) -> ::rcos::TaskRef");
        has("spawn_fn(server, (greeting, count,))");
        has(
            "pub fn spawn_on(handle: &::rcos::Handle, greeting: String, count: u32) -> ::rcos::TaskRef",
        );
        has(
            "#[tracing::instrument] async fn server(task: TaskRef, greeting: String, count: u32) -> u64 { 1 }",
        );
        has("server::server(task, arg0, arg1)");
        has("type Args = (String, u32,);");
        has("type Output = u64;");
        has("const NAME: &'static str = \"srv\";");
        has("builder.daemon(true).mailbox(100usize, ::rcos::task::Overflow::Fail)");
        assert!(!out.contains("RemoteTaskFn"));
    }

    #[test]
    fn defaults() {
        let out = expand_str(
            quote!(),
            quote!(
                async fn f(x: u8, t: TaskRef) {}
            ),
        );
        assert!(out.contains("const NAME : & 'static str = \"f\""));
        assert!(out.contains("type Output = () ;"));
        assert!(!out.contains("fn configure"));
        assert!(out.contains("f :: f (arg0 , task)"), "{out}");
    }

    #[test]
    fn remote_and_crate_path() {
        let out = expand_str(
            quote!(remote, crate = "my::rcos"),
            quote!(
                async fn f(t: TaskRef, x: String) -> u64 {
                    0
                }
            ),
        );
        assert!(out.contains("my :: rcos :: __private :: assert_message :: < String > ()"));
        assert!(out.contains("my :: rcos :: __private :: assert_message :: < u64 > ()"));
        assert!(out.contains("impl my :: rcos :: task :: RemoteTaskFn for f { }"));
        assert!(out.contains("RemoteTaskEntry :: new :: < f > ()"));
        assert!(
            !out.replace("my :: rcos", "").contains(":: rcos ::"),
            "only the given crate path is used"
        );
    }

    #[test]
    fn spawn_parameter_names() {
        let out = expand_str(
            quote!(),
            quote!(
                async fn f(_t: TaskRef, x: u8, _y: u8, _: u8, (a, b): (u8, u8), ref r: u8) {}
            ),
        );
        assert!(
            out.contains("fn spawn (x : u8 , y : u8 , arg2 : u8 , arg3 : (u8 , u8) , arg4 : u8)"),
            "{out}"
        );
    }

    #[test]
    fn spawn_is_not_a_body_name() {
        let out = expand_str(
            quote!(),
            quote!(
                async fn spawn(t: TaskRef) {}
            ),
        );
        assert!(out.contains("async fn __rcos_spawn_body"));
    }

    #[test]
    fn attribute_placement() {
        let out = expand_str(
            quote!(),
            quote! {
                #[cfg(all())]
                #[allow(unused)]
                #[expect(clippy::pedantic)]
                async fn f(t: TaskRef) {}
            },
        );
        assert_eq!(out.matches("# [cfg (all ())]").count(), 4, "{out}");
        assert_eq!(out.matches("# [allow (unused)]").count(), 2, "{out}");
        assert_eq!(
            out.matches("# [expect (clippy :: pedantic)]").count(),
            1,
            "{out}"
        );
    }
}
