//! A1: the frame decoder as a node's reader runs it — preamble, length prefix (checked
//! before allocation), record MAC, frames (the `Send` fast path and the generic CBOR
//! decoder with its nesting limit), the depth check of every payload, and the payload
//! decoded into a few receiver types; each record body also as the handshake's frames.
//! The first input byte picks the options (see `rcos::net::__fuzz::frame_decoder`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = rcos::net::__fuzz::frame_decoder(data);
    // A finite input always ends somehow, and nothing is counted that was not read.
    assert!(report.error.is_some() || data.is_empty(), "{report:?}");
    assert!(report.payloads_within_depth <= report.messages && report.messages <= report.frames);
});
