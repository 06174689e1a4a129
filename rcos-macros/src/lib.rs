//! Procedural macros for [rcos](https://docs.rs/rcos): `#[task]`, `#[derive(Message)]`
//! and `#[rcos::main]`.
//!
//! Use them through rcos, which re-exports them (feature `macros`, on by default):
//! `use rcos::{task, Message};` and `#[rcos::main]`. Their expansions name rcos by the
//! absolute path `::rcos`; a crate that re-exports rcos under another path passes
//! `crate = "path::to::rcos"` to any of them.
//!
//! Each macro is built in three steps, each in its own module: *parse* the input and the
//! options into rcos-owned structs, *validate* them (every problem is reported at the
//! offending token, all at once), *expand* the valid model. When the input has errors,
//! the user's item is still emitted next to the errors, so IDEs keep working and the rest
//! of the program does not fail with follow-on errors.
//!
//! The examples in the macros' documentation live in `docs/*.md`. They need the runtime,
//! which this crate cannot depend on, so they are not doctests of this crate
//! (`cfg(doctest)` leaves them out here); rcos runs them by including the same files.

mod attr;
mod diag;
mod item;
mod main_fn;
mod message;
mod task;
mod types;

use proc_macro::TokenStream;

#[cfg_attr(not(doctest), doc = include_str!("../docs/task.md"))]
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::task(args.into(), item.into()).into()
}

#[cfg_attr(not(doctest), doc = include_str!("../docs/main.md"))]
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_fn::main(args.into(), item.into()).into()
}

#[cfg_attr(not(doctest), doc = include_str!("../docs/message.md"))]
#[proc_macro_derive(Message, attributes(message))]
pub fn derive_message(input: TokenStream) -> TokenStream {
    message::derive(input.into()).into()
}
