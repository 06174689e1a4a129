//! Parsing of the function an attribute macro is put on, shared by `#[task]` and
//! `#[rcos::main]`.
//!
//! Like tokio-macros, the body is kept as raw tokens and not parsed statement by
//! statement: it is faster, and a half-typed body (as an IDE sees it) does not stop the
//! expansion.

use proc_macro2::{Delimiter, Group, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Signature, Visibility};

/// A function item whose body is left unparsed.
pub(crate) struct FnItem {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The `{ ... }` body, as written.
    pub(crate) body: Group,
}

impl Parse for FnItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<FnItem> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let body = input.step(|cursor| {
            if let Some((proc_macro2::TokenTree::Group(group), rest)) = cursor.token_tree() {
                if group.delimiter() == Delimiter::Brace {
                    return Ok((group, rest));
                }
            }
            Err(cursor.error("expected the function's body `{ ... }`"))
        })?;
        Ok(FnItem {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

impl ToTokens for FnItem {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}

/// Parses the item an attribute is put on as a function. If it is some other item,
/// the error says which macro expects a function, at the item's first token.
pub(crate) fn parse_fn(item: TokenStream, macro_name: &str) -> syn::Result<FnItem> {
    match syn::parse2::<FnItem>(item.clone()) {
        Ok(item) => Ok(item),
        Err(error) => match syn::parse2::<syn::Item>(item) {
            Ok(syn::Item::Fn(_) | syn::Item::Verbatim(_)) | Err(_) => Err(error),
            Ok(other) => Err(syn::Error::new(
                item_keyword_span(&other),
                format!("{macro_name} goes on an `async fn`"),
            )),
        },
    }
}

/// The span of the keyword that says what kind of item `item` is (`struct`, `impl`, ...).
fn item_keyword_span(item: &syn::Item) -> proc_macro2::Span {
    use syn::spanned::Spanned;
    match item {
        syn::Item::Struct(i) => i.struct_token.span,
        syn::Item::Enum(i) => i.enum_token.span,
        syn::Item::Union(i) => i.union_token.span,
        syn::Item::Impl(i) => i.impl_token.span,
        syn::Item::Trait(i) => i.trait_token.span,
        syn::Item::Mod(i) => i.mod_token.span,
        syn::Item::Const(i) => i.const_token.span,
        syn::Item::Static(i) => i.static_token.span,
        syn::Item::Type(i) => i.type_token.span,
        syn::Item::Use(i) => i.use_token.span,
        other => other.span(),
    }
}

/// What an attribute on the function does, which decides where the expansion puts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttrKind {
    /// `#[doc]` (and `///` comments): documents the generated item.
    Doc,
    /// `#[cfg]`: applies to every generated item.
    Cfg,
    /// `#[allow]`, `#[warn]`, `#[deny]`, `#[forbid]`, `#[expect]`: lint levels for every
    /// generated item and for the body.
    Lint,
    /// `#[deprecated]`: marks the generated public item.
    Deprecated,
    /// Anything else (`#[tracing::instrument]`, `#[inline]`, ...): stays on the body.
    Other,
}

/// Classifies an attribute; a `#[cfg_attr(pred, a, b)]` is classified by what it would
/// expand to when every inner attribute is of the same kind.
pub(crate) fn attr_kind(attr: &Attribute) -> AttrKind {
    let path = attr.path();
    if path.is_ident("doc") {
        AttrKind::Doc
    } else if path.is_ident("cfg") {
        AttrKind::Cfg
    } else if ["allow", "warn", "deny", "forbid", "expect"]
        .iter()
        .any(|lint| path.is_ident(lint))
    {
        AttrKind::Lint
    } else if path.is_ident("deprecated") {
        AttrKind::Deprecated
    } else if path.is_ident("cfg_attr") {
        cfg_attr_kind(attr)
    } else {
        AttrKind::Other
    }
}

fn cfg_attr_kind(attr: &Attribute) -> AttrKind {
    use syn::punctuated::Punctuated;
    let Ok(metas) = attr.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
    else {
        return AttrKind::Other;
    };
    let mut kinds = metas.iter().skip(1).map(|meta| {
        let path = meta.path();
        if path.is_ident("doc") {
            AttrKind::Doc
        } else if ["allow", "warn", "deny", "forbid", "expect"]
            .iter()
            .any(|lint| path.is_ident(lint))
        {
            AttrKind::Lint
        } else {
            AttrKind::Other
        }
    });
    match kinds.next() {
        Some(first) if kinds.all(|k| k == first) => first,
        _ => AttrKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::parse_quote;

    #[test]
    fn parses_a_fn_and_keeps_the_body_raw() {
        // The body's statements are not parsed: `let x = ;` does not stop the parse.
        let item = parse_fn(
            quote! {
                /// Docs.
                pub async fn f(task: TaskRef) -> u8 { let x = ; x }
            },
            "#[task]",
        )
        .unwrap();
        assert_eq!(item.sig.ident, "f");
        assert_eq!(item.attrs.len(), 1);
        assert_eq!(item.body.delimiter(), Delimiter::Brace);
    }

    #[test]
    fn round_trips() {
        let tokens = quote!(
            #[a]
            pub(crate) async fn f(x: u8) -> u8 {
                x
            }
        );
        let item = parse_fn(tokens.clone(), "#[task]").unwrap();
        assert_eq!(item.to_token_stream().to_string(), tokens.to_string());
    }

    #[test]
    fn other_items_get_a_clear_error() {
        let err = parse_fn(
            quote!(
                struct S;
            ),
            "#[task]",
        )
        .err()
        .unwrap();
        assert_eq!(err.to_string(), "#[task] goes on an `async fn`");
        let err = parse_fn(
            quote!(
                fn f();
            ),
            "#[task]",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("body"), "{err}");
    }

    #[test]
    fn attribute_kinds() {
        let kinds = |attr: Attribute| attr_kind(&attr);
        assert_eq!(kinds(parse_quote!(#[doc = "x"])), AttrKind::Doc);
        assert_eq!(kinds(parse_quote!(#[cfg(test)])), AttrKind::Cfg);
        assert_eq!(kinds(parse_quote!(#[allow(dead_code)])), AttrKind::Lint);
        assert_eq!(kinds(parse_quote!(#[expect(unused)])), AttrKind::Lint);
        assert_eq!(kinds(parse_quote!(#[deprecated])), AttrKind::Deprecated);
        assert_eq!(kinds(parse_quote!(#[tracing::instrument])), AttrKind::Other);
        assert_eq!(
            kinds(parse_quote!(#[cfg_attr(docsrs, doc = "x")])),
            AttrKind::Doc
        );
        assert_eq!(
            kinds(parse_quote!(#[cfg_attr(x, allow(a), deny(b))])),
            AttrKind::Lint
        );
        assert_eq!(
            kinds(parse_quote!(#[cfg_attr(x, allow(a), inline)])),
            AttrKind::Other
        );
    }
}
