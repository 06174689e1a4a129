//! `#[derive(Message)]` on structs, tuple structs, unit structs, enums and generic types.

use std::collections::HashMap;

use rcos::Message;
use serde::{Deserialize, Serialize};

/// Named fields.
#[derive(Serialize, Deserialize, Message)]
struct Named {
    text: String,
}

/// A tuple struct with a wire name.
#[derive(Serialize, Deserialize, Message)]
#[message(name = "inventory.v2.Restock")]
struct Restock(u32);

/// A unit struct.
#[derive(Serialize, Deserialize, Message)]
struct Tick;

/// An enum.
#[derive(Serialize, Deserialize, Message)]
enum Command {
    Start,
    Stop { now: bool },
    Scale(u8),
}

/// Generic, with bounds and a where clause.
#[derive(Serialize, Deserialize, Message)]
struct Keyed<K: Eq + std::hash::Hash, V>
where
    V: Clone,
{
    map: HashMap<K, V>,
}

/// Raw identifiers lose their `r#`.
#[derive(Serialize, Deserialize, Message)]
struct r#Match(u8);

fn main() {
    assert_eq!(Named::wire_name(), "Named");
    assert_eq!(Restock::wire_name(), "inventory.v2.Restock");
    assert_eq!(Tick::wire_name(), "Tick");
    assert_eq!(Command::wire_name(), "Command");
    assert_eq!(
        <Keyed<String, Vec<u8>>>::wire_name(),
        "Keyed<String, Vec<u8>>"
    );
    assert_eq!(r#Match::wire_name(), "Match");
    let rt = rcos::Runtime::new().unwrap();
    let t = rt.spawn(|task| async move {
        task.receive_type::<Restock>()
            .await
            .map(|r| r.0)
            .unwrap_or(0)
    });
    t.send(Restock(5)).unwrap();
    assert_eq!(t.value().get::<u32>(), Some(5));
    let _ = (
        Named {
            text: String::new(),
        }
        .text,
        Command::Start,
        Command::Stop { now: true },
        Command::Scale(1),
    );
    let _ = Keyed::<u8, u8> {
        map: HashMap::new(),
    }
    .map;
}
