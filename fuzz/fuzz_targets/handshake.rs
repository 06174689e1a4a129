//! A2: the handshake state machine, either side, fed a sequence of arbitrary frames,
//! raw bytes and (made by the harness, as an honest peer would) valid preambles, hellos
//! and auths; after authentication the rest is read as MAC'd records. Invariants: no
//! authentication without the valid `Auth`, and nothing decoded as a frame (the
//! decoder of user payloads) before authentication.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = rcos::net::__fuzz::handshake_from_bytes(data);
    if let Err(why) = report.check() {
        panic!("{why}: {report:?}");
    }
});
