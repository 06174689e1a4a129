//! Shared helpers for the rcos integration tests.
