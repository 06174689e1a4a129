//! The peers: the same workloads on the runtimes and actor frameworks a user would pick
//! instead of rcos, each written the way its documentation shows.
//!
//! - [`tokio`]: plain tokio tasks and `tokio::sync::mpsc` unbounded channels (requests
//!   carry a `oneshot` for the reply; broadcast is `tokio::sync::broadcast`), on the
//!   multi-thread runtime with one worker per core and on the current-thread runtime.
//! - [`ractor`]: ractor actors on the multi-thread tokio runtime; `cast` and `call`.
//! - [`kameo`]: kameo actors with unbounded mailboxes on the multi-thread tokio runtime;
//!   `tell` and `ask`.
//! - [`actix`]: actix actors on one `actix_rt::System` thread; `do_send` and `send`.
//!
//! ractor, kameo and actix have no broadcast primitive in their core crates: their
//! broadcast is a loop of sends, one per subscriber.

pub(crate) mod actix;
pub(crate) mod kameo;
pub(crate) mod ractor;
pub(crate) mod tokio;
