//! Offline profiles reach the device (S2, S3, S7, S8): a sync cycle fetches the member's
//! profile manifest (conditionally: a 304 costs nothing), plans against the cache
//! ([`plan`]), downloads each new or updated guide version into the cache as opening it would
//! (each committed at once or not at all, blobs resumed), removes guides that left the profile
//! unless the user opened them, and records what it downloaded.
//!
//! This module drives `client`, `net` and `cache`; none of them knows it. A cycle killed
//! anywhere resumes at the next one: the manifest it was working from is kept with its ETag,
//! finished guides are in the cache, a blob half downloaded continues where it stopped.

pub mod background;
pub mod cycle;
pub mod plan;
pub mod settings;

pub use background::{BackgroundSync, WithBackgroundSync};
pub use cycle::{Approval, GuideDone, SyncError, SyncOptions, SyncReport, run_cycle, sync_status};
pub use plan::{Plan, plan};
pub use settings::SyncSettings;
