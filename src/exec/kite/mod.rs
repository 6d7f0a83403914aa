//! Kite Connect REST: response envelopes and typed errors, the shared rate limiter, and the
//! SHA-256 checksums of the login exchange and order postbacks. The HTTP client that uses them
//! runs on io worker threads, never on a pipeline thread.

pub mod broker_book;
pub mod checksum;
pub mod envelope;
pub mod history;
pub mod login;
pub mod rate_limit;
pub mod reconciler;
pub mod rest;
pub mod router;
pub mod status;

pub use envelope::{parse_envelope, KiteError};
pub use rate_limit::{EndpointClass, RateLimiter, RateLimits};
