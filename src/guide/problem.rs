//! What is wrong with a guide package, where, and which rule it breaks.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The guide still loads; an author should look at it.
    Warning,
    /// The guide cannot be opened.
    Error,
}

/// The rule a problem breaks. The kebab-case name is stable: scripts and tests match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `guide.json` is not JSON.
    Syntax,
    /// `guide.json` is missing from the package, or the package cannot be read.
    Package,
    MissingField,
    UnknownField,
    WrongType,
    UnsupportedSchemaVersion,
    InvalidValue,
    DuplicateId,
    UnknownAnchor,
    UnusedAnchor,
    OutOfRange,
    NonFinite,
    TooLong,
    Empty,
    PathEscapesPackage,
    MissingAsset,
    AssetTooLarge,
    UnsupportedAssetType,
    CorruptAsset,
    /// A step plays an animation its model does not have.
    UnknownAnimation,
    /// A step has `capture` in a schema version 1 guide.
    #[serde(rename = "capture-needs-schema-2")]
    CaptureNeedsSchema2,
    /// A choice's `goto` names no step.
    UnknownStep,
    /// No path from the first step reaches this step.
    UnreachableStep,
    /// From this step the guide can never end.
    DeadEndBranch,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::Package => "package",
            Rule::MissingField => "missing-field",
            Rule::UnknownField => "unknown-field",
            Rule::WrongType => "wrong-type",
            Rule::UnsupportedSchemaVersion => "unsupported-schema-version",
            Rule::InvalidValue => "invalid-value",
            Rule::DuplicateId => "duplicate-id",
            Rule::UnknownAnchor => "unknown-anchor",
            Rule::UnusedAnchor => "unused-anchor",
            Rule::OutOfRange => "out-of-range",
            Rule::NonFinite => "non-finite",
            Rule::TooLong => "too-long",
            Rule::Empty => "empty",
            Rule::PathEscapesPackage => "path-escapes-package",
            Rule::MissingAsset => "missing-asset",
            Rule::AssetTooLarge => "asset-too-large",
            Rule::UnsupportedAssetType => "unsupported-asset-type",
            Rule::CorruptAsset => "corrupt-asset",
            Rule::UnknownAnimation => "unknown-animation",
            Rule::CaptureNeedsSchema2 => "capture-needs-schema-2",
            Rule::UnknownStep => "unknown-step",
            Rule::UnreachableStep => "unreachable-step",
            Rule::DeadEndBranch => "dead-end-branch",
        }
    }
}

/// One finding. `path` is a JSON path into `guide.json` (`$.tasks[0].steps[2].title`),
/// or the file inside the package when the problem is with a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub rule: Rule,
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{severity} at {}: {} [{}]",
            self.path,
            self.message,
            self.rule.name()
        )
    }
}

/// Builds JSON paths as the decoder walks the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath(String);

impl JsonPath {
    pub fn root() -> Self {
        Self("$".to_owned())
    }

    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}.{key}", self.0))
    }

    pub fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Collects problems; the decoder and the package checks share one.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn error(&mut self, rule: Rule, path: impl fmt::Display, message: impl Into<String>) {
        self.push(Severity::Error, rule, path, message);
    }

    pub fn warning(&mut self, rule: Rule, path: impl fmt::Display, message: impl Into<String>) {
        self.push(Severity::Warning, rule, path, message);
    }

    fn push(
        &mut self,
        severity: Severity,
        rule: Rule,
        path: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.0.push(Problem {
            severity,
            rule,
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }
}
