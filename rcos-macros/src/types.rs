//! Questions about the types in a `#[task]` signature.

use syn::{GenericArgument, PathArguments, ReturnType, Type, TypeParamBound};

/// Looks through parentheses and invisible groups.
pub(crate) fn peel(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Paren(p) => ty = &p.elem,
            Type::Group(g) => ty = &g.elem,
            _ => return ty,
        }
    }
}

/// Whether `ty` names `TaskRef` (`TaskRef`, `rcos::TaskRef`, `::rcos::TaskRef`, ...):
/// the last path segment is `TaskRef`, without generic arguments.
pub(crate) fn is_task_ref(ty: &Type) -> bool {
    match peel(ty) {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|seg| seg.ident == "TaskRef" && seg.arguments.is_none()),
        _ => false,
    }
}

/// Whether `ty` is a reference to a `TaskRef` (`&TaskRef`, `&mut TaskRef`).
pub(crate) fn is_task_ref_ref(ty: &Type) -> bool {
    match peel(ty) {
        Type::Reference(r) => is_task_ref(&r.elem),
        _ => false,
    }
}

/// The output type of a signature (`()` when there is none).
pub(crate) fn output_type(output: &ReturnType) -> Type {
    match output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    }
}

/// A problem found inside a type.
#[derive(Debug)]
pub(crate) enum TypeProblem {
    /// `impl Trait`, at its span.
    ImplTrait(proc_macro2::Span),
    /// A borrow that is not `'static` (`&T`, `&'_ T`, `Cow<'_, str>`), at its span.
    Borrow(proc_macro2::Span),
}

/// Every `impl Trait` and non-`'static` borrow inside `ty`, outermost first.
pub(crate) fn problems(ty: &Type) -> Vec<TypeProblem> {
    let mut out = Vec::new();
    walk(ty, &mut out);
    out
}

fn walk(ty: &Type, out: &mut Vec<TypeProblem>) {
    match ty {
        Type::ImplTrait(i) => out.push(TypeProblem::ImplTrait(i.impl_token.span)),
        Type::Reference(r) => {
            match &r.lifetime {
                Some(l) if l.ident == "static" => {}
                Some(l) => out.push(TypeProblem::Borrow(l.span())),
                None => out.push(TypeProblem::Borrow(r.and_token.span)),
            }
            walk(&r.elem, out);
        }
        Type::Array(a) => walk(&a.elem, out),
        Type::Group(g) => walk(&g.elem, out),
        Type::Paren(p) => walk(&p.elem, out),
        Type::Ptr(p) => walk(&p.elem, out),
        Type::Slice(s) => walk(&s.elem, out),
        Type::Tuple(t) => t.elems.iter().for_each(|t| walk(t, out)),
        Type::Path(p) => {
            if let Some(q) = &p.qself {
                walk(&q.ty, out);
            }
            for seg in &p.path.segments {
                walk_args(&seg.arguments, out);
            }
        }
        Type::TraitObject(t) => walk_bounds(t.bounds.iter(), out),
        // Function pointers bring their own (higher-ranked) lifetimes; `_`, `!` and
        // macros have nothing to look into.
        _ => {}
    }
}

fn walk_args(args: &PathArguments, out: &mut Vec<TypeProblem>) {
    match args {
        PathArguments::None => {}
        PathArguments::AngleBracketed(a) => {
            for arg in &a.args {
                match arg {
                    GenericArgument::Type(t) => walk(t, out),
                    GenericArgument::Lifetime(l) if l.ident != "static" => {
                        out.push(TypeProblem::Borrow(l.span()));
                    }
                    GenericArgument::AssocType(a) => walk(&a.ty, out),
                    GenericArgument::Constraint(c) => walk_bounds(c.bounds.iter(), out),
                    _ => {}
                }
            }
        }
        PathArguments::Parenthesized(p) => {
            p.inputs.iter().for_each(|t| walk(t, out));
            if let ReturnType::Type(_, t) = &p.output {
                walk(t, out);
            }
        }
    }
}

fn walk_bounds<'a>(bounds: impl Iterator<Item = &'a TypeParamBound>, out: &mut Vec<TypeProblem>) {
    for bound in bounds {
        match bound {
            TypeParamBound::Trait(t) => {
                for seg in &t.path.segments {
                    walk_args(&seg.arguments, out);
                }
            }
            TypeParamBound::Lifetime(l) if l.ident != "static" => {
                out.push(TypeProblem::Borrow(l.span()));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn task_ref_detection() {
        assert!(is_task_ref(&parse_quote!(TaskRef)));
        assert!(is_task_ref(&parse_quote!(rcos::TaskRef)));
        assert!(is_task_ref(&parse_quote!(::rcos::TaskRef)));
        assert!(is_task_ref(&parse_quote!((TaskRef))));
        assert!(!is_task_ref(&parse_quote!(TaskRef<u8>)));
        assert!(!is_task_ref(&parse_quote!(Option<TaskRef>)));
        assert!(!is_task_ref(&parse_quote!(&TaskRef)));
        assert!(!is_task_ref(&parse_quote!(<X as Y>::TaskRef)));
        assert!(is_task_ref_ref(&parse_quote!(&TaskRef)));
        assert!(is_task_ref_ref(&parse_quote!(&mut rcos::TaskRef)));
    }

    #[test]
    fn output_defaults_to_unit() {
        let ty = output_type(&ReturnType::Default);
        assert_eq!(quote::quote!(#ty).to_string(), "()");
    }

    fn count(ty: &Type) -> (usize, usize) {
        let p = problems(ty);
        let impls = p
            .iter()
            .filter(|p| matches!(p, TypeProblem::ImplTrait(_)))
            .count();
        (impls, p.len() - impls)
    }

    #[test]
    fn finds_impl_trait_and_borrows() {
        assert_eq!(count(&parse_quote!(u32)), (0, 0));
        assert_eq!(count(&parse_quote!(&'static str)), (0, 0));
        assert_eq!(
            count(&parse_quote!(Box<dyn Fn(u8) -> u8 + Send + 'static>)),
            (0, 0)
        );
        assert_eq!(count(&parse_quote!(fn(&str) -> &str)), (0, 0));
        assert_eq!(count(&parse_quote!(impl Send)), (1, 0));
        assert_eq!(count(&parse_quote!(Vec<impl Send>)), (1, 0));
        assert_eq!(count(&parse_quote!((u8, [impl Send; 2]))), (1, 0));
        assert_eq!(count(&parse_quote!(&str)), (0, 1));
        assert_eq!(count(&parse_quote!(&'a str)), (0, 1));
        assert_eq!(count(&parse_quote!(Cow<'_, str>)), (0, 1));
        assert_eq!(count(&parse_quote!(Box<dyn Send + '_>)), (0, 1));
        assert_eq!(count(&parse_quote!(Option<&mut Vec<impl Send>>)), (1, 1));
    }
}
