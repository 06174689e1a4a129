//! A generic message used with a parameter that is not a message.
use std::rc::Rc;

use rcos::Message;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Message)]
struct Wrapper<T> {
    inner: T,
}

fn main() {
    let _ = Wrapper::<Rc<u8>>::wire_name();
}
