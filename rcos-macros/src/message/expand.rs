//! Expand: the `Message` impl.

use proc_macro2::TokenStream;
use quote::quote;

use super::validate::MessageModel;

/// `impl Message for T`, with `P: Message` for each type parameter `P`.
pub(crate) fn expand(model: &MessageModel<'_>) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    let mut generics = model.input.generics.clone();
    if !model.type_params.is_empty() {
        let where_clause = generics.make_where_clause();
        for param in &model.type_params {
            where_clause
                .predicates
                .push(syn::parse_quote!(#param: #krate::Message));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let body = if model.type_params.is_empty() {
        let name = &model.name;
        quote!(::std::borrow::Cow::Borrowed(#name))
    } else {
        // `Wrapper<{}, {}>`, filled with each parameter's own wire name, as rcos names
        // `HashMap<String, Vec<u8>>`. The name itself goes in as format text, escaped.
        let placeholders = vec!["{}"; model.type_params.len()].join(", ");
        let format = format!(
            "{}<{placeholders}>",
            model.name.replace('{', "{{").replace('}', "}}")
        );
        let params = &model.type_params;
        quote! {
            ::std::borrow::Cow::Owned(::std::format!(
                #format,
                #(<#params as #krate::Message>::wire_name()),*
            ))
        }
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Message for #ident #ty_generics #where_clause {
            fn wire_name() -> ::std::borrow::Cow<'static, str> {
                #body
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Errors;
    use crate::message::{parse, validate};
    use syn::{DeriveInput, parse_quote};

    fn expand_str(input: &DeriveInput) -> String {
        let mut errors = Errors::new();
        let parsed = parse::parse(input, &mut errors);
        let model = validate::validate(parsed, &mut errors).unwrap();
        expand(&model).to_string()
    }

    #[test]
    fn plain_type() {
        let out = expand_str(&parse_quote!(
            struct Restock(u32);
        ));
        assert_eq!(
            out,
            quote! {
                #[automatically_derived]
                impl ::rcos::Message for Restock {
                    fn wire_name() -> ::std::borrow::Cow<'static, str> {
                        ::std::borrow::Cow::Borrowed("Restock")
                    }
                }
            }
            .to_string()
        );
    }

    #[test]
    fn generic_type() {
        let out = expand_str(&parse_quote! {
            #[message(name = "x{y}", crate = "r")]
            struct W<K: Ord, V = u8> where V: Clone { k: K, v: V }
        });
        assert!(out.contains("impl < K : Ord , V > r :: Message for W < K , V > where V : Clone , K : r :: Message , V : r :: Message"), "{out}");
        assert!(out.contains("\"x{{y}}<{}, {}>\""), "{out}");
        assert!(
            out.contains(
                "< K as r :: Message > :: wire_name () , < V as r :: Message > :: wire_name ()"
            ),
            "{out}"
        );
    }
}
