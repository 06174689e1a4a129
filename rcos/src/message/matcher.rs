//! Dispatching on a message's type.

use super::{Envelope, Message};

/// Dispatch on an [`Envelope`]'s type: each [`on`](Self::on) tries one type, the first
/// that fits runs, and [`otherwise`](Self::otherwise) gets what none took.
///
/// ```
/// use rcos::Envelope;
///
/// fn describe(env: Envelope) -> String {
///     env.matcher()
///         .on(|n: u64| format!("number {n}"))
///         .on(|s: String| format!("text {s:?}"))
///         .otherwise(|other| format!("something else: {}", other.type_name()))
/// }
///
/// assert_eq!(describe(Envelope::new(7u64)), "number 7");
/// assert_eq!(describe(Envelope::new("hi".to_string())), "text \"hi\"");
/// assert_eq!(describe(Envelope::new(true)), "something else: bool");
/// ```
#[must_use = "a match does nothing until it is finished with `otherwise` or `result`"]
pub struct Match<R> {
    state: Result<R, Envelope>,
}

impl<R> Match<R> {
    /// Starts a match on `env`.
    pub fn new(env: Envelope) -> Self {
        Match { state: Err(env) }
    }

    /// Runs `f` if the message is an `M` and nothing matched before.
    pub fn on<M: Message>(self, f: impl FnOnce(M) -> R) -> Self {
        match self.state {
            Ok(done) => Match { state: Ok(done) },
            Err(env) => Match {
                state: env.downcast::<M>().map(f),
            },
        }
    }

    /// Runs `f` if the value is a local `T` (see [`Envelope::downcast_any`]) and nothing
    /// matched before.
    pub fn on_any<T: Send + 'static>(self, f: impl FnOnce(T) -> R) -> Self {
        match self.state {
            Ok(done) => Match { state: Ok(done) },
            Err(env) => Match {
                state: env.downcast_any::<T>().map(f),
            },
        }
    }

    /// Finishes the match: `f` gets the envelope if no arm took it.
    pub fn otherwise(self, f: impl FnOnce(Envelope) -> R) -> R {
        self.state.unwrap_or_else(f)
    }

    /// Finishes the match, handing the envelope back if no arm took it.
    pub fn result(self) -> Result<R, Envelope> {
        self.state
    }
}

impl<R> std::fmt::Debug for Match<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Match")
            .field("matched", &self.state.is_ok())
            .finish_non_exhaustive()
    }
}
