//! Validate: what a message type may be generic over.

use syn::{GenericParam, Ident, Path};

use super::parse::MessageInput;
use crate::diag::Errors;

/// A checked `#[derive(Message)]` input.
pub(crate) struct MessageModel<'a> {
    pub(crate) input: &'a syn::DeriveInput,
    /// The wire name, before any type parameters are appended.
    pub(crate) name: String,
    /// The type parameters, each of which must be a message too.
    pub(crate) type_params: Vec<&'a Ident>,
    pub(crate) krate: Path,
}

/// Checks the generics and resolves the options. Returns no model if no impl can be
/// generated at all (a union, a lifetime or const parameter); option problems alone
/// leave a model with the default name.
pub(crate) fn validate<'a>(
    parsed: MessageInput<'a>,
    errors: &mut Errors,
) -> Option<MessageModel<'a>> {
    let input = parsed.input;
    let mut ok = !matches!(input.data, syn::Data::Union(_));
    let mut type_params = Vec::new();
    for param in &input.generics.params {
        match param {
            GenericParam::Type(t) => type_params.push(&t.ident),
            GenericParam::Lifetime(l) => {
                ok = false;
                errors.push(syn::Error::new(
                    l.lifetime.span(),
                    "a message owns its data (it can be sent to another task or node): \
                     lifetime parameters are not supported; use owned types",
                ));
            }
            GenericParam::Const(c) => {
                ok = false;
                errors.push(syn::Error::new_spanned(
                    c,
                    "#[derive(Message)] does not support const generic parameters; \
                     implement `Message` by hand to choose the wire name",
                ));
            }
        }
    }
    ok.then(|| MessageModel {
        input,
        name: parsed.name.map_or_else(
            || syn::ext::IdentExt::unraw(&input.ident).to_string(),
            |n| n.value(),
        ),
        type_params,
        krate: parsed.krate.unwrap_or_else(crate::attr::default_crate_path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;
    use syn::{DeriveInput, parse_quote};

    fn check(input: &DeriveInput) -> Result<(String, usize), Vec<String>> {
        let mut errors = Errors::new();
        let parsed = parse::parse(input, &mut errors);
        let model = validate(parsed, &mut errors);
        match (model, errors.finish()) {
            (Some(m), Ok(())) => Ok((m.name, m.type_params.len())),
            (_, Err(e)) => Err(e.into_iter().map(|e| e.to_string()).collect()),
            (None, Ok(())) => panic!("no model and no error"),
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            check(&parse_quote!(
                struct Restock(u32);
            ))
            .unwrap(),
            ("Restock".into(), 0)
        );
        assert_eq!(
            check(&parse_quote!(
                enum r#Type {
                    A,
                }
            ))
            .unwrap(),
            ("Type".into(), 0)
        );
        assert_eq!(
            check(&parse_quote!(
                #[message(name = "a.B")]
                struct S;
            ))
            .unwrap(),
            ("a.B".into(), 0)
        );
        assert_eq!(
            check(&parse_quote!(
                struct W<T, U: Clone = u8>
                where
                    T: Copy,
                {
                    t: T,
                    u: U,
                }
            ))
            .unwrap(),
            ("W".into(), 2)
        );
    }

    #[test]
    fn lifetimes_and_consts_are_rejected() {
        let errs = check(&parse_quote!(
            struct S<'a, const N: usize>(&'a [u8; N]);
        ))
        .unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(errs[0].contains("lifetime parameters are not supported"));
        assert!(errs[1].contains("const generic"));
    }

    #[test]
    fn bad_options_still_give_a_model() {
        let input: DeriveInput = parse_quote!(
            #[message(name = "")]
            struct S;
        );
        let mut errors = Errors::new();
        let parsed = parse::parse(&input, &mut errors);
        let model = validate(parsed, &mut errors).unwrap();
        assert_eq!(model.name, "S");
        assert!(!errors.is_empty());
    }
}
