//! The crate's one clock ([`crate::clock`]), re-exported where the service has always found it.

pub use crate::clock::{Clock, FixedClock, SystemClock};
