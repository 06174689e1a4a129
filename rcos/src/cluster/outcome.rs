//! How a job ended, in words, for the dashboard: a returned value is shown from its
//! wire form (CBOR), whatever its type.

use ciborium::Value as Cbor;

use crate::task::{Exit, Value};

/// The longest description kept.
const MAX_LEN: usize = 200;

/// `exit` in words: "returned 42", "panicked: ...", "terminated", ...
pub(crate) fn describe(exit: &Exit) -> String {
    let mut text = match exit {
        Exit::Returned(value) => format!("returned {}", describe_value(value)),
        other => other.to_string(),
    };
    if text.len() > MAX_LEN {
        let mut cut = MAX_LEN;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// A value shown from its CBOR encoding, or its type name if it has none.
fn describe_value(value: &Value) -> String {
    let fallback = || format!("a {}", value.type_name());
    let mut wire = Vec::new();
    if ciborium::into_writer(value, &mut wire).is_err() {
        return fallback();
    }
    let Ok(Cbor::Map(fields)) =
        ciborium::de::from_reader_with_recursion_limit::<Cbor, _>(wire.as_slice(), 64)
    else {
        return fallback();
    };
    let bytes = fields.into_iter().find_map(|(k, v)| match (k, v) {
        (Cbor::Text(k), Cbor::Bytes(b)) if k == "bytes" => Some(b),
        (Cbor::Text(k), Cbor::Array(items)) if k == "bytes" => items
            .into_iter()
            .map(|i| i.as_integer().and_then(|i| u8::try_from(i).ok()))
            .collect(),
        _ => None,
    });
    let Some(bytes) = bytes else {
        return fallback();
    };
    match ciborium::de::from_reader_with_recursion_limit::<Cbor, _>(bytes.as_slice(), 64) {
        Ok(cbor) => {
            let mut out = String::new();
            render(&cbor, &mut out);
            out
        }
        Err(_) => fallback(),
    }
}

fn render(cbor: &Cbor, out: &mut String) {
    use std::fmt::Write;
    if out.len() > MAX_LEN {
        return;
    }
    match cbor {
        Cbor::Integer(i) => {
            let _ = write!(out, "{}", i128::from(*i));
        }
        Cbor::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Cbor::Text(t) => {
            let _ = write!(out, "{t:?}");
        }
        Cbor::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Cbor::Null => out.push_str("()"),
        Cbor::Bytes(b) => {
            let _ = write!(out, "<{} bytes>", b.len());
        }
        Cbor::Tag(_, inner) => render(inner, out),
        Cbor::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                render(item, out);
            }
            out.push(']');
        }
        Cbor::Map(entries) => {
            out.push('{');
            for (n, (k, v)) in entries.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                render(k, out);
                out.push_str(": ");
                render(v, out);
            }
            out.push('}');
        }
        _ => out.push('?'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_words() {
        assert_eq!(describe(&Exit::Returned(Value::new(42u64))), "returned 42");
        assert_eq!(
            describe(&Exit::Returned(Value::new(("a".to_string(), vec![1u8, 2])))),
            "returned [\"a\", [1, 2]]"
        );
        assert_eq!(describe(&Exit::Returned(Value::new(()))), "returned ()");
        assert_eq!(describe(&Exit::Terminated), "terminated");
        assert!(describe(&Exit::Panicked("x".repeat(500))).len() < 300);
    }
}
