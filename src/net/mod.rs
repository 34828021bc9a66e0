//! The device's network edge: the HTTP client of the guide service's API ([`ApiClient`]), the
//! [`Connectivity`] monitor that drives the Offline banner (F2), and resumable, verified blob
//! downloads ([`download`]). The service is not trusted: what the device reads from it is
//! bounded ([`limits`]).
//!
//! Everything here does blocking I/O on the caller's thread or its own worker threads; the pure
//! rules (who may sign in, what opens offline) live in `app::access`, which only sees the
//! outcomes reported from here.

mod client;
pub mod connectivity;
pub mod download;
mod error;
pub mod limits;
pub mod wire;

pub use client::{ApiClient, ClientOptions, Conditional};
pub use connectivity::{Connectivity, ConnectivityEvent, ConnectivitySettings, Link};
pub use error::{NetError, Refusal};
