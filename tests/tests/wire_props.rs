//! Property tests of the wire format on the stable toolchain (plan rows A2 and A6): the
//! same decoders the cargo-fuzz targets in `fuzz/` drive (through `rcos::net::__fuzz`),
//! fed arbitrary bytes and arbitrary frame sequences, never panic and never let a peer
//! in without the secret; every wire type survives a byte-wise round trip,
//! `encode(decode(encode(x))) == encode(x)`, over 10,000 generated values each.
//!
//! The generated values are built as CBOR trees from the protocol's description (the
//! book's "Wire protocol" chapter), not from rcos's own types: a value rcos does not
//! decode fails the test, so these also pin the wire format down.
//!
//! `RCOS_WRITE_FUZZ_CORPUS=1 cargo test -p rcos-tests --all-features --test wire_props
//! fuzz_seed_corpus` rewrites the fuzzers' seed corpus (`fuzz/corpus/`); without it, the
//! test replays the corpus in the repository through both harnesses.

use std::net::SocketAddr;
use std::time::Instant;

use ciborium::Value;
use std::cell::Cell;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use rcos::net::__fuzz::{self, BeaconFields, Step, WireType};

/// Cases per property.
const CASES: u32 = 10_000;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn int(n: u64) -> Value {
    Value::Integer(n.into())
}

fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (text(k), v)).collect())
}

/// An externally tagged enum variant with content.
fn variant(name: &str, content: Value) -> Value {
    map(vec![(name, content)])
}

// ---------------------------------------------------------------------------------
// Generators of wire values (CBOR trees), and whether rcos keeps every field as it is
// (references to tasks and channels are read back as references of this process, and
// lose what only makes sense on a node, such as the location).

/// A generated value: its CBOR tree, and whether decoding keeps every byte.
#[derive(Clone, Debug)]
struct Gen {
    value: Value,
    lossless: bool,
}

fn exact(value: Value) -> Gen {
    Gen {
        value,
        lossless: true,
    }
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z:<>_]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(40).collect()),
    ]
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

fn span() -> impl Strategy<Value = Value> {
    (any_text(), any::<u64>(), any_text()).prop_map(|(name, id, node)| {
        map(vec![
            ("name", text(&name)),
            ("id", int(id)),
            ("node", text(&node)),
        ])
    })
}

fn wire_msg() -> impl Strategy<Value = Value> {
    (any_text(), any_bytes(), prop::option::of(span())).prop_map(|(name, bytes, span)| {
        let mut fields = vec![("name", text(&name)), ("bytes", Value::Bytes(bytes))];
        if let Some(span) = span {
            fields.push(("span", span));
        }
        map(fields)
    })
}

fn location() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| text(&SocketAddr::from((ip, port)).to_string())),
        any_text().prop_map(|s| text(&s)),
    ]
}

fn task_ref() -> impl Strategy<Value = Gen> {
    (
        any_text(),
        any::<u64>(),
        any::<u64>(),
        any_text(),
        location(),
    )
        .prop_map(|(node, incarnation, id, name, location)| Gen {
            value: map(vec![
                ("node", text(&node)),
                ("incarnation", int(incarnation)),
                ("id", int(id)),
                ("name", text(&name)),
                ("location", location),
            ]),
            lossless: false,
        })
}

fn channel() -> impl Strategy<Value = Gen> {
    (any_text(), any::<u64>(), any_text(), location()).prop_map(
        |(node, incarnation, name, location)| Gen {
            value: map(vec![
                ("node", text(&node)),
                ("incarnation", int(incarnation)),
                ("name", text(&name)),
                ("location", location),
            ]),
            lossless: false,
        },
    )
}

fn subscriber() -> impl Strategy<Value = Gen> {
    prop_oneof![
        task_ref().prop_map(|g| Gen {
            value: variant("Task", g.value),
            ..g
        }),
        channel().prop_map(|g| Gen {
            value: variant("Channel", g.value),
            ..g
        }),
    ]
}

/// A task's exit value on the wire: its wire name and, for a message, its encoding (as
/// an array of byte values).
fn exit_value() -> impl Strategy<Value = Gen> {
    (any_text(), prop::option::of(any_bytes())).prop_map(|(name, bytes)| Gen {
        value: map(vec![
            ("name", text(&name)),
            (
                "bytes",
                bytes.map_or(Value::Null, |b| {
                    Value::Array(b.into_iter().map(|x| int(x.into())).collect())
                }),
            ),
        ]),
        lossless: false,
    })
}

fn exit() -> impl Strategy<Value = Gen> {
    prop_oneof![
        exit_value().prop_map(|g| Gen {
            value: variant("Returned", g.value),
            ..g
        }),
        any_text().prop_map(|s| exact(variant("Panicked", text(&s)))),
        Just(exact(text("Terminated"))),
        any_text().prop_map(|s| exact(variant("Thrown", text(&s)))),
        Just(exact(text("NotFound"))),
        Just(exact(text("NodeLost"))),
    ]
}

fn answer() -> impl Strategy<Value = Gen> {
    prop_oneof![
        Just(exact(text("Done"))),
        any::<u64>().prop_map(|n| exact(variant("Count", int(n)))),
        task_ref().prop_map(|g| Gen {
            value: variant("Task", g.value),
            ..g
        }),
        channel().prop_map(|g| Gen {
            value: variant("Channel", g.value),
            ..g
        }),
        exit().prop_map(|g| Gen {
            value: variant("Exit", g.value),
            ..g
        }),
        Just(exact(text("NotFound"))),
        any_text().prop_map(|s| exact(variant("Failed", text(&s)))),
        any::<u8>().prop_map(|n| exact(variant("SendFailed", int(n.into())))),
        any::<u8>().prop_map(|n| exact(variant("SwapFailed", int(n.into())))),
    ]
}

/// Every frame of the protocol.
fn frame() -> impl Strategy<Value = Gen> {
    let u = any::<u64>;
    let fields = |name: &'static str, f: Vec<(&'static str, Value)>| exact(variant(name, map(f)));
    prop_oneof![
        u().prop_map(|n| exact(variant("Ping", int(n)))),
        u().prop_map(|n| exact(variant("Pong", int(n)))),
        (u(), wire_msg())
            .prop_map(move |(to, msg)| fields("Send", vec![("to", int(to)), ("msg", msg)])),
        (u(), u(), wire_msg()).prop_map(move |(req, to, msg)| fields(
            "Deliver",
            vec![("req", int(req)), ("to", int(to)), ("msg", msg)]
        )),
        (u(), wire_msg())
            .prop_map(move |(id, msg)| fields("Reply", vec![("id", int(id)), ("msg", msg)])),
        (u(), task_ref()).prop_map(|(target, m)| Gen {
            value: variant(
                "Monitor",
                map(vec![("target", int(target)), ("monitor", m.value)])
            ),
            lossless: false,
        }),
        (u(), task_ref()).prop_map(|(target, m)| Gen {
            value: variant(
                "Unmonitor",
                map(vec![("target", int(target)), ("monitor", m.value)])
            ),
            lossless: false,
        }),
        u().prop_map(move |t| fields("Terminate", vec![("target", int(t))])),
        (u(), any_text()).prop_map(move |(t, m)| fields(
            "Throw",
            vec![("target", int(t)), ("message", text(&m))]
        )),
        (u(), u(), any_text(), any_bytes(), u()).prop_map(
            move |(req, target, function, args, timeout)| {
                fields(
                    "HotSwap",
                    vec![
                        ("req", int(req)),
                        ("target", int(target)),
                        ("function", text(&function)),
                        ("args", Value::Bytes(args)),
                        ("timeout_ms", int(timeout)),
                    ],
                )
            }
        ),
        (u(), u()).prop_map(move |(req, t)| fields(
            "Finish",
            vec![("req", int(req)), ("target", int(t))]
        )),
        (u(), any_text(), any::<bool>()).prop_map(move |(req, name, ch)| {
            fields(
                "Locate",
                vec![
                    ("req", int(req)),
                    ("name", text(&name)),
                    ("channel", Value::Bool(ch)),
                ],
            )
        }),
        (u(), any_text(), any_bytes()).prop_map(move |(req, f, args)| {
            fields(
                "Spawn",
                vec![
                    ("req", int(req)),
                    ("function", text(&f)),
                    ("args", Value::Bytes(args)),
                ],
            )
        }),
        (any_text(), wire_msg()).prop_map(move |(ch, msg)| fields(
            "ChannelSend",
            vec![("channel", text(&ch)), ("msg", msg)]
        )),
        (u(), any_text(), wire_msg(), u(), u()).prop_map(move |(req, ch, msg, n, t)| {
            fields(
                "ChannelDeliver",
                vec![
                    ("req", int(req)),
                    ("channel", text(&ch)),
                    ("msg", msg),
                    ("n", int(n)),
                    ("timeout_ms", int(t)),
                ],
            )
        }),
        (u(), any_text(), subscriber()).prop_map(|(req, ch, s)| Gen {
            value: variant(
                "Subscribe",
                map(vec![
                    ("req", int(req)),
                    ("channel", text(&ch)),
                    ("subscriber", s.value)
                ])
            ),
            lossless: false,
        }),
        (u(), any_text(), subscriber()).prop_map(|(req, ch, s)| Gen {
            value: variant(
                "Unsubscribe",
                map(vec![
                    ("req", int(req)),
                    ("channel", text(&ch)),
                    ("subscriber", s.value)
                ])
            ),
            lossless: false,
        }),
        (u(), any_text(), u(), any_bytes(), any::<bool>()).prop_map(
            move |(req, path, size, sha, ow)| {
                fields(
                    "FileBegin",
                    vec![
                        ("req", int(req)),
                        ("path", text(&path)),
                        ("size", int(size)),
                        ("sha256", Value::Bytes(sha)),
                        ("overwrite", Value::Bool(ow)),
                    ],
                )
            }
        ),
        (u(), u(), u(), any_bytes()).prop_map(move |(req, tr, off, bytes)| {
            fields(
                "FileChunk",
                vec![
                    ("req", int(req)),
                    ("transfer", int(tr)),
                    ("offset", int(off)),
                    ("bytes", Value::Bytes(bytes)),
                ],
            )
        }),
        (u(), u()).prop_map(move |(req, tr)| fields(
            "FileEnd",
            vec![("req", int(req)), ("transfer", int(tr))]
        )),
        (u(), any_text()).prop_map(move |(req, p)| fields(
            "FileDelete",
            vec![("req", int(req)), ("path", text(&p))]
        )),
        (u(), answer()).prop_map(|(req, a)| Gen {
            value: variant("Answer", map(vec![("req", int(req)), ("answer", a.value)])),
            lossless: a.lossless,
        }),
        Just(exact(text("Goodbye"))),
    ]
}

fn hello() -> impl Strategy<Value = Value> {
    (
        any_text(),
        any::<u64>(),
        location(),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(name, incarnation, listen, nonce)| {
            map(vec![
                ("name", text(&name)),
                ("incarnation", int(incarnation)),
                ("listen", listen),
                ("nonce", Value::Bytes(nonce)),
            ])
        })
}

fn auth() -> impl Strategy<Value = Value> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(|mac| map(vec![("mac", Value::Bytes(mac))]))
}

/// Runs the round trip of `ty` over `CASES` values from `strategy`; returns how many
/// were lossless (the encoding rcos writes is the generated one, byte for byte).
fn check_round_trip(ty: WireType, strategy: impl Strategy<Value = Gen>) -> u32 {
    let mut lossless = 0u32;
    let mut runner = TestRunner::new(config(CASES));
    let start = Instant::now();
    runner
        .run(&strategy, |g| {
            let bytes = cbor(&g.value);
            let (once, twice) = __fuzz::round_trip(ty, &bytes).map_err(|e| {
                TestCaseError::fail(format!("{ty:?} did not decode: {e}; {:?}", g.value))
            })?;
            prop_assert_eq!(&once, &twice, "{:?} not stable: {:?}", ty, g.value);
            if g.lossless {
                prop_assert_eq!(
                    &once,
                    &bytes,
                    "{:?} re-encoded differently: {:?}",
                    ty,
                    g.value
                );
            }
            Ok(())
        })
        .unwrap();
    // The runner does not say how many were lossless; count on a fresh sample.
    let mut sampler = TestRunner::deterministic();
    for _ in 0..1000 {
        if strategy.new_tree(&mut sampler).unwrap().current().lossless {
            lossless += 1;
        }
    }
    println!(
        "A6: {ty:?}: {CASES} cases, 0 failures, {:.1} s ({}/1000 sampled byte-exact against the generated encoding)",
        start.elapsed().as_secs_f64(),
        lossless
    );
    lossless
}

#[test]
fn every_frame_round_trips_byte_for_byte() {
    check_round_trip(WireType::Frame, frame());
}

#[test]
fn answers_and_messages_round_trip_byte_for_byte() {
    check_round_trip(WireType::Answer, answer());
    check_round_trip(WireType::WireMsg, wire_msg().prop_map(exact));
}

#[test]
fn handshake_messages_round_trip_byte_for_byte() {
    check_round_trip(WireType::Hello, hello().prop_map(exact));
    check_round_trip(WireType::Auth, auth().prop_map(exact));
}

#[test]
fn beacons_round_trip_byte_for_byte() {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(std::net::IpAddr::from),
        any::<[u8; 16]>().prop_map(std::net::IpAddr::from),
    ];
    let fields = (
        any::<u16>(),
        any::<bool>(),
        any::<u64>(),
        any::<u64>(),
        any::<[u8; 16]>(),
        ip,
        any::<u16>(),
        any_text(),
    )
        .prop_map(
            |(minor, tls, incarnation, timestamp_ms, nonce, ip, port, name)| BeaconFields {
                minor,
                tls,
                incarnation,
                timestamp_ms,
                nonce,
                listen: SocketAddr::new(ip, port),
                name,
            },
        );
    let start = Instant::now();
    TestRunner::new(config(CASES))
        .run(&fields, |b| {
            let once = __fuzz::encode_beacon(&b);
            let back = __fuzz::decode_beacon(&once).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&__fuzz::encode_beacon(&back), &once);
            // Names are cut to 255 bytes on the wire; all else comes back as it was.
            if b.name.len() <= 255 {
                prop_assert_eq!(&back, &b);
            }
            Ok(())
        })
        .unwrap();
    println!(
        "A6: Beacon: {CASES} cases, 0 failures, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn records_round_trip_with_and_without_mac() {
    let bodies = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..6);
    let start = Instant::now();
    TestRunner::new(config(CASES))
        .run(
            &(bodies, prop::option::of(any::<[u8; 32]>())),
            |(bodies, key)| {
                let back = __fuzz::record_round_trip(&bodies, key).map_err(TestCaseError::fail)?;
                let sent: Vec<Vec<u8>> = bodies.into_iter().filter(|b| !b.is_empty()).collect();
                prop_assert_eq!(back, sent);
                Ok(())
            },
        )
        .unwrap();
    println!(
        "A6: Record: {CASES} cases, 0 failures, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// `c2 5f 41 75 ff`: a bignum tag around an indefinite byte string, which ciborium's
/// `Value` once failed to re-encode as it read it. rcos never decodes into `Value`; its
/// frames refuse it, and as a payload it is opaque and passes through untouched.
#[test]
fn the_known_value_regression_is_refused_as_a_frame_and_opaque_as_a_payload() {
    let odd = [0xc2, 0x5f, 0x41, 0x75, 0xff];
    assert!(__fuzz::round_trip(WireType::Frame, &odd).is_err());
    let send = cbor(&variant(
        "Send",
        map(vec![
            ("to", int(1)),
            (
                "msg",
                map(vec![
                    ("name", text("x")),
                    ("bytes", Value::Bytes(odd.to_vec())),
                ]),
            ),
        ]),
    ));
    let (once, twice) = __fuzz::round_trip(WireType::Frame, &send).unwrap();
    assert_eq!(once, send);
    assert_eq!(twice, send);
}

// ---------------------------------------------------------------------------------
// Arbitrary input (A2 on stable).

#[test]
fn arbitrary_bytes_never_panic_the_frame_decoder() {
    let start = Instant::now();
    let frames = Cell::new(0usize);
    let samples: Vec<Vec<u8>> = __fuzz::sample_frames()
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    // Random bytes, and real frames with random bytes spliced in.
    let input = prop_oneof![
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..2048))
            .prop_map(|(flags, rest)| { [vec![flags], __fuzz::preamble(), rest].concat() }),
        (
            prop::sample::select(samples),
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 0..16),
            0u8..32,
        )
            .prop_map(|(frame, at, splice, flags)| {
                let mut body = frame.clone();
                let i = at.index(body.len() + 1);
                body.splice(i..i, splice);
                [
                    vec![(flags & !2) | 1],
                    __fuzz::preamble(),
                    __fuzz::record(&body),
                ]
                .concat()
            }),
    ];
    TestRunner::new(config(CASES))
        .run(&input, |data| {
            let report = __fuzz::frame_decoder(&data);
            frames.set(frames.get() + report.frames);
            prop_assert!(report.error.is_some());
            prop_assert!(report.payloads_within_depth <= report.messages);
            Ok(())
        })
        .unwrap();
    println!(
        "A2 (stable): frame decoder: {CASES} inputs, 0 panics, {} frames decoded, {:.1} s",
        frames.get(),
        start.elapsed().as_secs_f64()
    );
}

fn step() -> impl Strategy<Value = Step> {
    let samples: Vec<Vec<u8>> = __fuzz::sample_frames()
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Step::Raw),
        3 => prop::sample::select(samples).prop_map(Step::Record),
        2 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Step::Record),
        2 => Just(Step::Preamble),
        2 => Just(Step::Hello),
        2 => Just(Step::Auth),
    ]
}

#[test]
fn arbitrary_frame_sequences_never_get_into_the_handshake_without_the_secret() {
    let start = Instant::now();
    let (authenticated, post_auth_frames) = (Cell::new(0u32), Cell::new(0usize));
    let script = (any::<bool>(), prop::collection::vec(step(), 0..8));
    TestRunner::new(config(CASES))
        .run(&script, |(server, steps)| {
            let report = __fuzz::handshake(server, steps);
            report.check().map_err(TestCaseError::fail)?;
            if report.authenticated {
                authenticated.set(authenticated.get() + 1);
                post_auth_frames
                    .set(post_auth_frames.get() + report.after.as_ref().map_or(0, |a| a.frames));
            }
            Ok(())
        })
        .unwrap();
    let raw = prop::collection::vec(any::<u8>(), 0..512);
    TestRunner::new(config(CASES))
        .run(&raw, |data| {
            __fuzz::handshake_from_bytes(&data)
                .check()
                .map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap();
    let (authenticated, post_auth_frames) = (authenticated.get(), post_auth_frames.get());
    assert!(
        authenticated > 0,
        "no script authenticated: the harness is broken"
    );
    println!(
        "A2 (stable): handshake: {} scripts, 0 panics, 0 frames decoded before authentication, {authenticated} authenticated (all with the valid Auth), {post_auth_frames} frames after, {:.1} s",
        2 * CASES,
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn the_harness_lets_an_honest_peer_in_and_reads_what_follows() {
    let samples = __fuzz::sample_frames();
    for server in [true, false] {
        let mut steps = vec![Step::Preamble, Step::Hello, Step::Auth];
        steps.extend(samples.iter().map(|(_, b)| Step::Record(b.clone())));
        let report = __fuzz::handshake(server, steps);
        assert!(report.authenticated, "{report:?}");
        let after = report.after.unwrap();
        assert_eq!(after.frames, samples.len(), "{after:?}");
        // Any other frame where the Hello or the Auth belongs closes the connection.
        for (name, bytes) in &samples {
            for at in [1, 2] {
                let mut steps = vec![Step::Preamble, Step::Hello, Step::Auth];
                steps[at] = Step::Record(bytes.clone());
                let report = __fuzz::handshake(server, steps);
                assert!(!report.authenticated, "{name} in place of step {at} got in");
                assert_eq!(report.frames_decoded_pre_auth, 0);
            }
        }
    }
}

/// Replays (or, with `RCOS_WRITE_FUZZ_CORPUS=1`, rewrites) the fuzzers' seed corpus.
#[test]
fn fuzz_seed_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let corpus = __fuzz::seed_corpus();
    if std::env::var_os("RCOS_WRITE_FUZZ_CORPUS").is_some() {
        for target in ["frame_decoder", "handshake"] {
            let dir = root.join(target);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
        }
        for (target, name, input) in &corpus {
            std::fs::write(root.join(target).join(name), input).unwrap();
        }
        println!("wrote {} seed inputs to {}", corpus.len(), root.display());
    }
    let mut replayed = 0;
    for target in ["frame_decoder", "handshake"] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in dir {
            let input = std::fs::read(entry.unwrap().path()).unwrap();
            if target == "frame_decoder" {
                __fuzz::frame_decoder(&input);
            } else {
                __fuzz::handshake_from_bytes(&input).check().unwrap();
            }
            replayed += 1;
        }
    }
    // The generated seeds behave as their names say.
    for (target, name, input) in &corpus {
        if *target == "handshake" {
            let report = __fuzz::handshake_from_bytes(input);
            assert_eq!(
                report.authenticated,
                name.contains("-valid-"),
                "{name}: {report:?}"
            );
        }
    }
    println!(
        "fuzz corpus: {} seeds generated, {replayed} replayed from the repository",
        corpus.len()
    );
}
