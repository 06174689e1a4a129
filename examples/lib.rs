//! The rcos examples live beside this file; run one with `cargo run --example NAME`.
//! This library is empty: it only gives the examples a package.
