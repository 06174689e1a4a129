//! Error types, one per operation.
//!
//! Errors that give a message back (`SendError`, `ResumeError`, `ReplyError`) hand it
//! back through `into_inner`, so a failed send loses nothing. Their `Debug` does not
//! need the message to be `Debug`.

use std::fmt;

use crate::TaskRef;
use crate::message::Envelope;

/// Why a message could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// The receiving task has ended.
    Ended,
    /// The receiving task's bounded mailbox is full.
    Full,
    /// The receiver is on another node and the value is local-only, or the node cannot
    /// be reached.
    Unreachable,
    /// No acknowledgement arrived within the timeout of a `deliver`.
    Timeout,
    /// The message, encoded, is larger than a node accepts in one frame
    /// ([`NodeConfig::max_frame`](crate::net::NodeConfig::max_frame)); it was not sent.
    TooLarge,
}

impl fmt::Display for SendErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendErrorKind::Ended => "the receiving task has ended",
            SendErrorKind::Full => "the receiving task's mailbox is full",
            SendErrorKind::Unreachable => "the receiving task cannot be reached",
            SendErrorKind::Timeout => "delivery was not acknowledged in time",
            SendErrorKind::TooLarge => "the message is larger than a node accepts in one frame",
        })
    }
}

/// A message that could not be sent, handed back with the reason.
pub struct SendError<M> {
    msg: M,
    kind: SendErrorKind,
}

impl<M> SendError<M> {
    pub(crate) fn new(msg: M, kind: SendErrorKind) -> Self {
        SendError { msg, kind }
    }

    /// Why the send failed.
    pub fn kind(&self) -> SendErrorKind {
        self.kind
    }

    /// Whether the receiving task has ended.
    pub fn is_ended(&self) -> bool {
        self.kind == SendErrorKind::Ended
    }

    /// Whether the receiving task's mailbox was full.
    pub fn is_full(&self) -> bool {
        self.kind == SendErrorKind::Full
    }

    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        self.msg
    }

    pub(crate) fn map<N>(self, f: impl FnOnce(M) -> N) -> SendError<N> {
        SendError {
            msg: f(self.msg),
            kind: self.kind,
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "message not sent: {}", self.kind)
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Why a wait (`receive`, `sleep`, `suspend`) ended without its usual result.
///
/// A task that propagates an interrupt out of its function with `?` gets pycos's
/// semantics: an unhandled thrown error ends it with [`Exit::Thrown`](crate::Exit::Thrown),
/// and a propagated hot-swap request is accepted.
#[derive(Debug)]
#[non_exhaustive]
pub enum Interrupt {
    /// An error thrown into the task with [`TaskRef::throw`].
    Thrown(crate::task::Thrown),
    /// A hot-swap request, delivered only while the task is
    /// [`hot_swappable`](TaskRef::hot_swappable).
    HotSwap(crate::task::SwapRequest),
    /// The wait was called on a [`TaskRef`] that is not the calling task's own: only a
    /// task can receive from its own mailbox or suspend itself.
    WrongTask,
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interrupt::Thrown(thrown) => write!(f, "error thrown into the task: {thrown}"),
            Interrupt::HotSwap(req) => write!(f, "hot-swap request to {}", req.new_name()),
            Interrupt::WrongTask => f.write_str("a task can only wait on its own TaskRef"),
        }
    }
}

impl std::error::Error for Interrupt {}

/// A `resume` that found no suspended task; the value is handed back.
pub struct ResumeError<M> {
    value: M,
    ended: bool,
}

impl<M> ResumeError<M> {
    pub(crate) fn new(value: M, ended: bool) -> Self {
        ResumeError { value, ended }
    }

    /// Whether the task has ended (otherwise it was simply not suspended).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// The value that was not delivered.
    pub fn into_inner(self) -> M {
        self.value
    }
}

impl<M> fmt::Debug for ResumeError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResumeError")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<M> fmt::Display for ResumeError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ended {
            f.write_str("cannot resume a task that has ended")
        } else {
            f.write_str("cannot resume a task that is not suspended")
        }
    }
}

impl<M> std::error::Error for ResumeError<M> {}

/// Why a name could not be registered.
#[derive(Debug)]
#[non_exhaustive]
pub enum RegisterError {
    /// Another live task holds the name.
    Taken {
        /// The name.
        name: String,
        /// The task that holds it.
        holder: TaskRef,
    },
    /// The task has ended.
    Ended,
    /// Only a task of this runtime can be registered here.
    NotLocal,
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::Taken { name, holder } => {
                write!(f, "the name {name:?} is registered to {holder}")
            }
            RegisterError::Ended => f.write_str("an ended task cannot be registered"),
            RegisterError::NotLocal => f.write_str("only a local task can be registered"),
        }
    }
}

impl std::error::Error for RegisterError {}

/// Why [`TaskRef::locate`] found nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocateError {
    /// No task took the name before the timeout.
    NotFound {
        /// The name looked for.
        name: String,
    },
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocateError::NotFound { name } => {
                write!(f, "no task registered as {name:?} was found in time")
            }
        }
    }
}

impl std::error::Error for LocateError {}

/// Why a [`call`](TaskRef::call) got no answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallError {
    /// The request could not be sent.
    Send(SendErrorKind),
    /// No reply within the timeout.
    Timeout,
    /// The receiver dropped the request without replying (or ended before reading it).
    NoReply,
    /// The reply was not of the expected type; here it is.
    WrongReply(WrongReply),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Send(kind) => write!(f, "request not sent: {kind}"),
            CallError::Timeout => f.write_str("no reply in time"),
            CallError::NoReply => f.write_str("the request was dropped without a reply"),
            CallError::WrongReply(reply) => {
                write!(f, "unexpected reply of type {}", reply.type_name())
            }
        }
    }
}

impl std::error::Error for CallError {}

/// A reply of an unexpected type, handed back inside [`CallError::WrongReply`].
pub struct WrongReply {
    type_name: String,
    // An `Envelope` is `Send` but not `Sync`; the mutex keeps the error `Sync` so it
    // can travel in a `Box<dyn Error + Send + Sync>`.
    env: crate::util::Mutex<Envelope>,
}

impl WrongReply {
    pub(crate) fn new(env: Envelope) -> Self {
        WrongReply {
            type_name: env.type_name().to_string(),
            env: crate::util::Mutex::new(env),
        }
    }

    /// The type of the reply that came.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The reply itself.
    pub fn into_envelope(self) -> Envelope {
        self.env.into_inner()
    }
}

impl fmt::Debug for WrongReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrongReply")
            .field("type", &self.type_name)
            .finish_non_exhaustive()
    }
}

/// A reply that could not be delivered; the value is handed back.
pub struct ReplyError<R> {
    reply: R,
    reason: ReplyFailure,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplyFailure {
    NotWaiting,
    Unreachable,
}

impl<R> ReplyError<R> {
    pub(crate) fn new(reply: R, reason: ReplyFailure) -> Self {
        ReplyError { reply, reason }
    }

    /// Whether the caller stopped waiting (it timed out or went away).
    pub fn is_not_waiting(&self) -> bool {
        self.reason == ReplyFailure::NotWaiting
    }

    /// The reply that was not delivered.
    pub fn into_inner(self) -> R {
        self.reply
    }
}

impl<R> fmt::Debug for ReplyError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyError")
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl<R> fmt::Display for ReplyError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            ReplyFailure::NotWaiting => f.write_str("the caller is no longer waiting for a reply"),
            ReplyFailure::Unreachable => f.write_str("the caller cannot be reached"),
        }
    }
}

impl<R> std::error::Error for ReplyError<R> {}

/// Why [`Handle::join`](crate::Handle::join) returned without every task done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// `join` was called from inside the runtime it waits for, which would deadlock.
    InsideRuntime,
    /// Non-daemon tasks were still running when the timeout ran out.
    Timeout,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::InsideRuntime => {
                f.write_str("join called from inside the runtime it waits for")
            }
            JoinError::Timeout => f.write_str("tasks were still running when join timed out"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Why a task could not be spawned by name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// No `#[task(remote)]` function has this name in this program.
    UnknownTask(String),
    /// Several `#[task(remote)]` functions share this name; give them distinct
    /// `name = "..."` options.
    Ambiguous(String),
    /// The arguments did not decode as the function's argument types.
    BadArguments(String),
    /// The node to spawn on cannot be reached.
    Unreachable(String),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::UnknownTask(name) => write!(f, "unknown task {name:?}"),
            SpawnError::Ambiguous(name) => write!(f, "several remote tasks are named {name:?}"),
            SpawnError::BadArguments(why) => f.write_str(why),
            SpawnError::Unreachable(why) => write!(f, "cannot reach the node: {why}"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// How an interrupt travels to another node (as the error a remote task returned): a
/// thrown error keeps its message; a hot-swap request, which cannot cross nodes,
/// arrives as a thrown error saying so.
#[derive(serde::Serialize, serde::Deserialize)]
enum WireInterrupt {
    Thrown(String),
    HotSwap(String),
    WrongTask,
}

impl serde::Serialize for Interrupt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Interrupt::Thrown(thrown) => WireInterrupt::Thrown(thrown.message().to_string()),
            Interrupt::HotSwap(req) => WireInterrupt::HotSwap(req.new_name().to_string()),
            Interrupt::WrongTask => WireInterrupt::WrongTask,
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Interrupt {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let thrown = |message: String| {
            Interrupt::Thrown(crate::task::Thrown::new(Box::new(crate::net::RemoteError(
                message,
            ))))
        };
        Ok(match WireInterrupt::deserialize(deserializer)? {
            WireInterrupt::Thrown(message) => thrown(message),
            WireInterrupt::HotSwap(name) => {
                thrown(format!("an unanswered hot-swap request to {name}"))
            }
            WireInterrupt::WrongTask => Interrupt::WrongTask,
        })
    }
}

impl crate::Message for Interrupt {
    fn wire_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("rcos::Interrupt")
    }
}
