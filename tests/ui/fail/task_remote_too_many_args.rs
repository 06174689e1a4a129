//! A `remote` task with more arguments than a message tuple holds.
use rcos::{TaskRef, task};

#[task(remote)]
async fn server(
    _task: TaskRef,
    _a: u8,
    _b: u8,
    _c: u8,
    _d: u8,
    _e: u8,
    _f: u8,
    _g: u8,
    _h: u8,
    _i: u8,
    _j: u8,
    _k: u8,
    _l: u8,
    _m: u8,
) {
}

fn main() {}
