//! The reference guide service (`hologuide-server`): accounts and tokens, guides and their
//! immutable versions, content-addressed blobs, permissions, deactivation, offline profiles
//! (S1–S8), telemetry and step-result ingest (N5, S6).
//!
//! Layers, outermost first:
//! - [`http`]: axum routes; turns requests into calls on [`Service`] and errors into JSON bodies.
//! - [`Service`] (`core/`): the rules — who may see what, token lifetimes, publish, profile
//!   manifests, ingest validation. The admin command line calls the same methods.
//! - [`store::Storage`]: the metadata database behind a trait: [`store::SqliteStore`] on one
//!   machine (SQLite in WAL mode, versioned migrations), [`store::PostgresStore`] when one machine
//!   is not enough (N4). The rest of the service holds no state of its own between requests, so
//!   several instances can share one PostgreSQL; [`migrate`] moves a folder's data there.
//! - [`blobs::BlobStore`]: asset files named by their sha256, written atomically; a CDN or an
//!   object store can serve the same names later.

pub mod blobs;
pub mod clock;
mod core;
pub mod error;
pub mod http;
pub mod key_sealing;
pub mod migrate;
pub mod model;
pub mod passwords;
pub mod secret_key_file;
pub mod secrets;
pub mod serve;
pub mod sticker;
pub mod store;

pub use clock::{Clock, SystemClock};
pub use core::{
    Config, DATABASE_FILE, DataLocation, LinkKeyInfo, Membership, ORPHAN_AGE, OrphanCollection,
    PackageOrigin, RunExport, Service, runs_csv,
};
pub use error::ServiceError;
