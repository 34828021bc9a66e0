//! The service layer's one error type. Every variant carries a message an operator can be shown;
//! [`ServiceError::code`] is the stable machine-readable name the HTTP layer puts next to it.

use thiserror::Error;

use crate::guide::Problem;

use super::secret_key_file::SecretKeyFileError;
use super::store::StoreError;

#[derive(Debug, Error)]
pub enum ServiceError {
    /// No valid credentials: wrong password, unknown, expired or revoked token.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Signed in, but not allowed: another user's guide, a lost permission (F14), not an admin.
    #[error("{0}")]
    Forbidden(String),
    /// The guide was deactivated (F13).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state: a name already taken, a user already in a
    /// profile (S4).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong: a malformed field, an out-of-range value.
    #[error("{0}")]
    Invalid(String),
    /// A published package that does not validate; every problem is listed.
    #[error("the guide package is invalid: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidPackage { problems: Vec<Problem> },
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    RangeNotSatisfiable(String),
    /// Too many failed sign-ins in a row for this user name.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// A bounded resource (the password checks) is fully taken; try again shortly.
    #[error("the service is busy with other {what}; try again in {retry_after_secs} s")]
    Busy {
        what: &'static str,
        retry_after_secs: u64,
    },
    /// The client sent its request body too slowly.
    #[error("{0}")]
    TimedOut(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The secret key file the link-signing keys are sealed with (N2) cannot be used.
    #[error(transparent)]
    SecretKeyFile(#[from] SecretKeyFileError),
    /// The secret key file is readable but not the one the stored link keys were sealed with.
    #[error(
        "the link keys cannot be opened with {path}: it is not the secret key file they were \
         sealed with. Give that file (with PostgreSQL, every instance needs the same one); if it \
         is lost, retire the organisations' keys (`links retire`) and print new stickers"
    )]
    WrongSecretKey { path: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Unauthorized { code, .. } => code,
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::Gone(_) => "guide_deactivated",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::Invalid(_) => "invalid_request",
            ServiceError::InvalidPackage { .. } => "invalid_package",
            ServiceError::TooLarge(_) => "too_large",
            ServiceError::RangeNotSatisfiable(_) => "range_not_satisfiable",
            ServiceError::TooManyAttempts { .. } => "too_many_attempts",
            ServiceError::Busy { .. } => "busy",
            ServiceError::TimedOut(_) => "request_timeout",
            ServiceError::Store(StoreError::Conflict(_)) => "conflict",
            ServiceError::Store(StoreError::NotFound(_)) => "not_found",
            ServiceError::Store(_)
            | ServiceError::Io { .. }
            | ServiceError::SecretKeyFile(_)
            | ServiceError::WrongSecretKey { .. }
            | ServiceError::Internal(_) => "internal",
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| ServiceError::Io { what, source }
    }
}
