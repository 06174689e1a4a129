//! Attributes on a `#[task]` fn: docs, `cfg`, lint levels, `deprecated` and others.
#![deny(missing_docs, warnings)]

use rcos::{Runtime, TaskRef, task};

/// Documented: the docs go on the generated struct.
#[task]
#[cfg(not(any()))]
#[allow(unused_variables)]
#[inline]
pub async fn documented(task: TaskRef, unused: u8) -> u8 {
    7
}

/// Configured out: nothing is generated, not even the remote checks.
#[task(remote)]
#[cfg(any())]
pub async fn gone(task: TaskRef, not_a_message: std::rc::Rc<u8>) {}

/// Old.
#[task(remote)]
#[deprecated = "use `documented`"]
pub async fn old(task: TaskRef) {
    let _ = task;
}

fn main() {
    let rt = Runtime::new().unwrap();
    assert_eq!(documented::spawn_on(&rt, 1).value().get::<u8>(), Some(7));
    #[allow(deprecated)]
    old::spawn_on(&rt).value();
    assert_eq!(r#type::spawn_on(&rt).value().get::<u8>(), Some(3));
    assert!(rcos::task::remote_task_names().contains(&"type"));
}

/// A raw identifier as the task's name.
#[task(remote)]
pub async fn r#type(_task: TaskRef) -> u8 {
    3
}
