//! The network layer's one error type. A [`NetError::Unreachable`] means "no network" and flips
//! the connectivity monitor offline; a [`NetError::Refused`] is the service's own answer, to be
//! shown to the user as it is.

use thiserror::Error;

/// Why the service said no, in the terms the device's rules care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Bad credentials, or a token expired or revoked: sign in again.
    Unauthorized,
    /// The user lost the permission to open this guide (F14).
    Forbidden,
    /// The guide was deactivated (F13).
    Deactivated,
    NotFound,
    /// Too many failed sign-ins.
    TooManyAttempts,
    Other,
}

#[derive(Debug, Error)]
pub enum NetError {
    /// No answer at all: connection refused, DNS, timeout, a connection cut mid-body.
    #[error("the guide service at {server} cannot be reached ({detail})")]
    Unreachable { server: String, detail: String },
    /// The service answered with a refusal; `message` is written for the user.
    #[error("{message}")]
    Refused {
        refusal: Refusal,
        status: u16,
        code: String,
        message: String,
    },
    /// The service answered something this device cannot read.
    #[error("the guide service at {server} answered something unexpected: {detail}")]
    Protocol { server: String, detail: String },
    /// The service sent more than this device reads for that answer: a broken or hostile
    /// service, never a network problem.
    #[error(
        "the guide service at {server} answered more than {limit} for {what}; this device stops reading there"
    )]
    TooLarge {
        server: String,
        what: String,
        limit: String,
    },
    /// A download stopped because it took too long or crawled: the total deadline or the
    /// minimum rate (see `download::DownloadOptions`).
    #[error("the download from {server} was stopped: {detail}")]
    TooSlow { server: String, detail: String },
    /// The download would not fit on this device; nothing was written.
    #[error(
        "this guide needs {needed} of storage, but the device has {available} free and keeps {margin} spare; free some space (for example `hologuide cache clear`) and try again"
    )]
    NoRoom {
        needed: String,
        available: String,
        margin: String,
    },
    #[error("'{0}' is not a guide service address (expected http://host:port or https://host)")]
    InvalidServer(String),
    /// A downloaded blob whose bytes do not match its content address.
    #[error("downloaded content {sha256} is damaged ({detail}); it was discarded")]
    Integrity { sha256: String, detail: String },
    /// Downloaded bytes could not be stored (disk full, cache damaged).
    #[error("downloaded content could not be stored: {0}")]
    Store(String),
    /// The device asked the download to stop (sign-out, the app closing); what arrived is
    /// kept and the next attempt resumes from there.
    #[error("the download was stopped on this device; what arrived is kept for the next time")]
    Stopped,
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl NetError {
    /// True when the failure says "no network", which turns the Offline banner on (F2).
    pub fn is_network(&self) -> bool {
        matches!(self, NetError::Unreachable { .. })
    }

    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            NetError::Refused { refusal, .. } => Some(*refusal),
            _ => None,
        }
    }

    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| NetError::Io { what, source }
    }
}

/// The refusal a status and the service's error code stand for.
pub(crate) fn refusal_of(status: u16, code: &str) -> Refusal {
    match (status, code) {
        (401, _) => Refusal::Unauthorized,
        (403, _) => Refusal::Forbidden,
        (410, _) | (_, "guide_deactivated") => Refusal::Deactivated,
        (404, _) => Refusal::NotFound,
        (429, _) => Refusal::TooManyAttempts,
        _ => Refusal::Other,
    }
}
