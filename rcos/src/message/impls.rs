//! `Message` for the standard types that serde can carry.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use super::Message;

macro_rules! plain {
    ($($t:ty),* $(,)?) => {$(
        impl Message for $t {
            #[inline]
            fn wire_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($t))
            }
        }
    )*};
}

plain!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool, char, String,
    Duration
);

impl Message for () {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("()")
    }
}

macro_rules! generic1 {
    ($($name:literal => $t:ident),* $(,)?) => {$(
        impl<T: Message> Message for $t<T> {
            fn wire_name() -> Cow<'static, str> {
                super::cached_name::<Self>(|| format!(concat!($name, "<{}>"), T::wire_name()))
            }
        }
    )*};
}

generic1!("Vec" => Vec, "VecDeque" => VecDeque, "Option" => Option, "Box" => Box);

impl<T: Message + Ord> Message for BTreeSet<T> {
    fn wire_name() -> Cow<'static, str> {
        Cow::Owned(format!("BTreeSet<{}>", T::wire_name()))
    }
}

impl<T: Message + Eq + Hash, S: BuildHasher + Default + Send + 'static> Message for HashSet<T, S> {
    fn wire_name() -> Cow<'static, str> {
        Cow::Owned(format!("HashSet<{}>", T::wire_name()))
    }
}

impl<K: Message + Ord, V: Message> Message for BTreeMap<K, V> {
    fn wire_name() -> Cow<'static, str> {
        Cow::Owned(format!("BTreeMap<{}, {}>", K::wire_name(), V::wire_name()))
    }
}

impl<K: Message + Eq + Hash, V: Message, S: BuildHasher + Default + Send + 'static> Message
    for HashMap<K, V, S>
{
    fn wire_name() -> Cow<'static, str> {
        Cow::Owned(format!("HashMap<{}, {}>", K::wire_name(), V::wire_name()))
    }
}

impl<T: Message, E: Message> Message for Result<T, E> {
    fn wire_name() -> Cow<'static, str> {
        Cow::Owned(format!("Result<{}, {}>", T::wire_name(), E::wire_name()))
    }
}

macro_rules! tuple {
    ($($t:ident),+) => {
        impl<$($t: Message),+> Message for ($($t,)+) {
            fn wire_name() -> Cow<'static, str> {
                let parts: &[Cow<'static, str>] = &[$($t::wire_name()),+];
                if parts.len() == 1 {
                    Cow::Owned(format!("({},)", parts[0]))
                } else {
                    Cow::Owned(format!("({})", parts.join(", ")))
                }
            }
        }
    };
}

tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);
tuple!(A, B, C, D, E, F, G);
tuple!(A, B, C, D, E, F, G, H);
tuple!(A, B, C, D, E, F, G, H, I);
tuple!(A, B, C, D, E, F, G, H, I, J);
tuple!(A, B, C, D, E, F, G, H, I, J, K);
tuple!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names() {
        assert_eq!(u64::wire_name(), "u64");
        assert_eq!(<()>::wire_name(), "()");
        assert_eq!(<(u8,)>::wire_name(), "(u8,)");
        assert_eq!(<(u8, String, bool)>::wire_name(), "(u8, String, bool)");
        assert_eq!(
            <HashMap<String, Vec<u8>>>::wire_name(),
            "HashMap<String, Vec<u8>>"
        );
        assert_eq!(<Result<u8, String>>::wire_name(), "Result<u8, String>");
        assert_eq!(Duration::wire_name(), "Duration");
    }
}
