//! Guide links: what a QR sticker or a chat message holds to open a guide (at a step).
//!
//! Two spellings of the same link:
//! - `hologuide://<org>/g/<guide-uuid>[/s/<step>]` — the app's own scheme, printed on stickers;
//! - `https://<service host>[/<prefix>]/l/<org>/g/<guide-uuid>[/s/<step>]` — served by the guide
//!   service, so that a phone without the app lands on a page instead of an error.
//!
//! `<step>` is the step number an operator sees ("Step 3 of 9"), counted from 1 across all tasks.
//!
//! A sticker that also anchors holograms (X3) names its anchor in a query: `…?anchor=<id>`, the
//! id of one of the guide's `anchors` (the app ignores an anchor its guide does not declare, with
//! a log line). A signed sticker (N2) adds its key and signature: `…&k=<key id>&sig=<base64url>`
//! ([`super::link_trust`]). No other query and no fragment is accepted.
//! Payloads come from cameras and strangers: parsing never panics and never allocates without bound.

use std::fmt;
use std::num::NonZeroU32;

use thiserror::Error;
use uuid::Uuid;

use super::link_trust::LinkSignature;

pub const SCHEME: &str = "hologuide";
/// Longer payloads are not links we made; refuse before doing any work on them.
pub const MAX_LINK_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GuideLink {
    pub organisation: String,
    pub guide: Uuid,
    /// Step number, from 1; `None` opens the guide at its first step.
    pub step: Option<NonZeroU32>,
    /// The guide anchor this sticker is (`?anchor=<id>`): its holograms stand on it.
    pub anchor: Option<String>,
    /// The organisation's signature (N2), checked by [`super::link_trust::LinkTrust`].
    pub signature: Option<LinkSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkError {
    #[error("the link is empty")]
    Empty,
    #[error("the link is {0} characters long; guide links are at most {MAX_LINK_LEN}")]
    TooLong(usize),
    #[error("'{0}' is not a guide link (expected hologuide://… or https://…)")]
    UnknownScheme(String),
    #[error("the link has no organisation")]
    MissingOrganisation,
    #[error(
        "'{0}' is not an organisation name (1–63 characters of a–z, 0–9 and '-', not starting or ending with '-')"
    )]
    InvalidOrganisation(String),
    #[error("the link does not name a guide (expected …/<org>/g/<guide-id>)")]
    MissingGuide,
    #[error("'{0}' is not a guide id (expected a UUID)")]
    InvalidGuideId(String),
    #[error("'{0}' is not a step number (expected 1, 2, 3, …)")]
    InvalidStep(String),
    #[error("the link has unexpected trailing parts: '{0}'")]
    TrailingPath(String),
    #[error(
        "guide links carry no fragment, and no query but anchor=<id>, k=<key id> and sig=<signature> ('{0}')"
    )]
    UnexpectedQuery(String),
    #[error("the link's signature is malformed (k=<16 hex digits>&sig=<64 bytes, base64url>)")]
    InvalidSignature,
    #[error("'{0}' is not an anchor id (1–64 characters of A–Z, a–z, 0–9, '-' or '_')")]
    InvalidAnchor(String),
    #[error("'{0}' is not a guide link path (expected …/l/<org>/g/<guide-id>[/s/<step>])")]
    NotAGuidePath(String),
    #[error("the link has no service host")]
    MissingHost,
    #[error("'{0}' is not a valid service host")]
    InvalidHost(String),
    #[error("a service base URL must start with https:// or http:// ('{0}')")]
    InvalidServiceBase(String),
}

/// Organisation slugs: what DNS labels allow, lower case only, so links compare byte for byte.
pub fn is_valid_org_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

impl GuideLink {
    pub fn new(organisation: impl Into<String>, guide: Uuid, step: Option<NonZeroU32>) -> Self {
        Self {
            organisation: organisation.into(),
            guide,
            step,
            anchor: None,
            signature: None,
        }
    }

    /// The same link naming anchor `id` of its guide.
    pub fn with_anchor(mut self, id: impl Into<String>) -> Self {
        self.anchor = Some(id.into());
        self
    }

    /// Parses either spelling. Surrounding whitespace is tolerated (scanners often add a newline).
    pub fn parse(text: &str) -> Result<Self, LinkError> {
        if text.len() > MAX_LINK_LEN {
            return Err(LinkError::TooLong(text.len()));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(LinkError::Empty);
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| LinkError::UnknownScheme(shorten(text)))?;
        if let Some(at) = rest.find('#') {
            return Err(LinkError::UnexpectedQuery(shorten(&rest[at..])));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (anchor, signature) = parse_query(query)?;
        let link = if scheme.eq_ignore_ascii_case(SCHEME) {
            let (organisation, path) = rest.split_once('/').unwrap_or((rest, ""));
            Self::from_parts(organisation, path)
        } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http") {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            check_host(host)?;
            let (organisation, link_path) = service_link_tail(path)
                .ok_or_else(|| LinkError::NotAGuidePath(shorten(&format!("/{path}"))))?;
            Self::from_parts(organisation, &link_path)
        } else {
            Err(LinkError::UnknownScheme(shorten(scheme)))
        }?;
        Ok(Self {
            anchor,
            signature,
            ..link
        })
    }

    /// `path` is what follows `<org>/`: `g/<id>[/s/<n>][/]`.
    fn from_parts(organisation: &str, path: &str) -> Result<Self, LinkError> {
        if organisation.is_empty() {
            return Err(LinkError::MissingOrganisation);
        }
        if !is_valid_org_slug(organisation) {
            return Err(LinkError::InvalidOrganisation(shorten(organisation)));
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut segments = path.split('/');
        if segments.next() != Some("g") {
            return Err(LinkError::MissingGuide);
        }
        let guide_text = segments.next().ok_or(LinkError::MissingGuide)?;
        let guide = Uuid::try_parse(guide_text)
            .ok()
            .filter(|id| !id.is_nil())
            .ok_or_else(|| LinkError::InvalidGuideId(shorten(guide_text)))?;
        let step = match segments.next() {
            None => None,
            Some("s") => {
                let number = segments.next().unwrap_or("");
                Some(parse_step(number)?)
            }
            Some(other) => return Err(LinkError::TrailingPath(shorten(other))),
        };
        let rest: Vec<&str> = segments.collect();
        if !rest.is_empty() {
            return Err(LinkError::TrailingPath(shorten(&rest.join("/"))));
        }
        Ok(Self::new(organisation, guide, step))
    }

    /// The https spelling under a service base URL such as `https://guides.example.com`.
    pub fn to_https(&self, service_base: &str) -> Result<String, LinkError> {
        let (scheme, rest) = service_base
            .split_once("://")
            .filter(|(s, _)| *s == "https" || *s == "http")
            .ok_or_else(|| LinkError::InvalidServiceBase(shorten(service_base)))?;
        let rest = rest.trim_end_matches('/');
        let host = rest.split('/').next().unwrap_or("");
        check_host(host)?;
        Ok(format!("{scheme}://{rest}/l/{}", self.path()))
    }

    /// `<org>/g/<id>[/s/<n>][?anchor=<id>][&k=<key>&sig=<signature>]`, shared by both
    /// spellings.
    fn path(&self) -> String {
        let mut path = format!("{}/g/{}", self.organisation, self.guide.hyphenated());
        if let Some(step) = self.step {
            path.push_str(&format!("/s/{step}"));
        }
        let mut query = Vec::new();
        if let Some(anchor) = &self.anchor {
            query.push(format!("anchor={anchor}"));
        }
        if let Some(signature) = &self.signature {
            query.push(signature.to_query());
        }
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        path
    }
}

impl fmt::Display for GuideLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}://{}", self.path())
    }
}

impl std::str::FromStr for GuideLink {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The service may live under a prefix (`https://host/prefix/l/…`), and the prefix may itself
/// contain an `l` segment: the link is recognised by its shape, counted from the end.
fn service_link_tail(path: &str) -> Option<(&str, String)> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let n = segments.len();
    let shaped = |start: usize, with_step: bool| {
        segments[start] == "l"
            && segments[start + 2] == "g"
            && (!with_step || segments[start + 4] == "s")
    };
    let start = if n >= 6 && shaped(n - 6, true) {
        n - 6
    } else if n >= 4 && shaped(n - 4, false) {
        n - 4
    } else {
        return None;
    };
    Some((segments[start + 1], segments[start + 2..].join("/")))
}

/// The query's parameters: `anchor=<id>`, and `k` with `sig` together; each at most once.
fn parse_query(query: &str) -> Result<(Option<String>, Option<LinkSignature>), LinkError> {
    let (mut anchor, mut key, mut sig) = (None, None, None);
    if query.is_empty() {
        return Ok((None, None));
    }
    for pair in query.split('&') {
        let unexpected = || LinkError::UnexpectedQuery(shorten(&format!("?{query}")));
        let (name, value) = pair.split_once('=').ok_or_else(unexpected)?;
        let slot = match name {
            "anchor" => &mut anchor,
            "k" => &mut key,
            "sig" => &mut sig,
            _ => return Err(unexpected()),
        };
        if slot.replace(value).is_some() {
            return Err(unexpected());
        }
    }
    let anchor = match anchor {
        Some(id) if crate::guide::decode::is_valid_id(id) => Some(id.to_owned()),
        Some(id) => return Err(LinkError::InvalidAnchor(shorten(id))),
        None => None,
    };
    let signature = match (key, sig) {
        (None, None) => None,
        (Some(key), Some(sig)) => {
            Some(LinkSignature::from_query(key, sig).ok_or(LinkError::InvalidSignature)?)
        }
        _ => return Err(LinkError::InvalidSignature),
    };
    Ok((anchor, signature))
}

fn parse_step(text: &str) -> Result<NonZeroU32, LinkError> {
    // `u32::from_str` accepts a leading '+'; a sticker saying "s/+3" is not one we printed.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LinkError::InvalidStep(shorten(text)));
    }
    text.parse::<NonZeroU32>()
        .map_err(|_| LinkError::InvalidStep(shorten(text)))
}

fn check_host(host: &str) -> Result<(), LinkError> {
    if host.is_empty() {
        return Err(LinkError::MissingHost);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if !host.chars().all(allowed) {
        return Err(LinkError::InvalidHost(shorten(host)));
    }
    Ok(())
}

/// Error messages quote the payload; a hostile sticker must not flood the log.
fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c10";

    fn link(step: Option<u32>) -> GuideLink {
        GuideLink::new(
            "acme-pumps",
            Uuid::parse_str(ID).unwrap(),
            step.and_then(NonZeroU32::new),
        )
    }

    #[test]
    fn a_sticker_link_names_its_anchor_in_a_query_in_both_spellings() {
        let app = format!("hologuide://acme-pumps/g/{ID}/s/3?anchor=pump-front");
        let parsed = GuideLink::parse(&app).expect("a link with an anchor");
        assert_eq!(parsed, link(Some(3)).with_anchor("pump-front"));
        assert_eq!(parsed.to_string(), app);
        let web = parsed
            .to_https("https://guides.example.com")
            .expect("https");
        assert_eq!(
            web,
            format!("https://guides.example.com/l/acme-pumps/g/{ID}/s/3?anchor=pump-front")
        );
        assert_eq!(GuideLink::parse(&web), Ok(parsed));
    }

    #[test]
    fn app_link_with_step_parses_and_formats_back() {
        let text = format!("hologuide://acme-pumps/g/{ID}/s/3");
        let parsed = GuideLink::parse(&text).unwrap();
        assert_eq!(parsed, link(Some(3)));
        assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn app_link_without_step_opens_first_step() {
        let parsed = GuideLink::parse(&format!("hologuide://acme-pumps/g/{ID}")).unwrap();
        assert_eq!(parsed.step, None);
    }

    #[test]
    fn scanner_whitespace_trailing_slash_and_upper_case_uuid_are_tolerated() {
        let text = format!("  HOLOGUIDE://acme-pumps/g/{}/\n", ID.to_uppercase());
        assert_eq!(GuideLink::parse(&text).unwrap(), link(None));
    }

    #[test]
    fn https_link_served_by_the_service_parses_even_under_a_prefix() {
        let direct = format!("https://guides.example.com/l/acme-pumps/g/{ID}/s/2");
        let prefixed = format!("https://example.com:8443/hologuide/l/acme-pumps/g/{ID}/s/2");
        assert_eq!(GuideLink::parse(&direct).unwrap(), link(Some(2)));
        assert_eq!(GuideLink::parse(&prefixed).unwrap(), link(Some(2)));
        // An organisation called "l" under a prefix called "l" is still found by shape.
        let odd = GuideLink::parse(&format!("https://h/l/l/l/g/{ID}")).unwrap();
        assert_eq!((odd.organisation.as_str(), odd.step), ("l", None));
    }

    #[test]
    fn https_form_round_trips() {
        let https = link(Some(7))
            .to_https("https://guides.example.com/")
            .unwrap();
        assert_eq!(
            https,
            format!("https://guides.example.com/l/acme-pumps/g/{ID}/s/7")
        );
        assert_eq!(GuideLink::parse(&https).unwrap(), link(Some(7)));
    }

    #[test]
    fn malformed_links_give_typed_errors() {
        let cases: &[(&str, LinkError)] = &[
            ("", LinkError::Empty),
            ("mailto:x@y", LinkError::UnknownScheme("mailto:x@y".into())),
            ("ftp://acme/g/x", LinkError::UnknownScheme("ftp".into())),
            ("hologuide:///g/x", LinkError::MissingOrganisation),
            (
                "hologuide://Acme/g/x",
                LinkError::InvalidOrganisation("Acme".into()),
            ),
            ("hologuide://acme", LinkError::MissingGuide),
            ("hologuide://acme/x/1", LinkError::MissingGuide),
            (
                "hologuide://acme/g/not-a-uuid",
                LinkError::InvalidGuideId("not-a-uuid".into()),
            ),
            (
                "hologuide://acme/g/00000000-0000-0000-0000-000000000000",
                LinkError::InvalidGuideId("00000000-0000-0000-0000-000000000000".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}/s/0"),
                LinkError::InvalidStep("0".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}/s/+3"),
                LinkError::InvalidStep("+3".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}/s/"),
                LinkError::InvalidStep("".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}/x/3"),
                LinkError::TrailingPath("x".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}/s/3/extra"),
                LinkError::TrailingPath("extra".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}?next=evil"),
                LinkError::UnexpectedQuery("?next=evil".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}?anchor=front&x=1"),
                LinkError::UnexpectedQuery("?anchor=front&x=1".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}?anchor=a&anchor=b"),
                LinkError::UnexpectedQuery("?anchor=a&anchor=b".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}?k=0123456789abcdef"),
                LinkError::InvalidSignature,
            ),
            (
                &format!("hologuide://acme/g/{ID}?anchor="),
                LinkError::InvalidAnchor("".into()),
            ),
            (
                &format!("hologuide://acme/g/{ID}?anchor=front#top"),
                LinkError::UnexpectedQuery("#top".into()),
            ),
            ("https:///l/acme/g/x", LinkError::MissingHost),
            (
                &format!("https://user@evil.example/l/acme/g/{ID}"),
                LinkError::InvalidHost("user@evil.example".into()),
            ),
            (
                &format!("https://guides.example.com/acme/g/{ID}"),
                LinkError::NotAGuidePath(format!("/acme/g/{ID}")),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(GuideLink::parse(text).as_ref(), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn oversized_payload_is_refused_before_parsing() {
        let huge = "hologuide://".to_owned() + &"a".repeat(5000);
        assert_eq!(GuideLink::parse(&huge), Err(LinkError::TooLong(5012)));
    }

    #[test]
    fn service_base_must_be_http() {
        assert!(matches!(
            link(None).to_https("guides.example.com"),
            Err(LinkError::InvalidServiceBase(_))
        ));
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_text(text in ".{0,300}") {
            let _ = GuideLink::parse(&text);
        }

        #[test]
        fn parser_never_panics_on_link_shaped_text(
            scheme in "(hologuide|https|HTTP|x)",
            parts in proptest::collection::vec("[a-z0-9/:\\-.sg%é]{0,40}", 0..6),
        ) {
            let _ = GuideLink::parse(&format!("{scheme}://{}", parts.join("/")));
        }

        #[test]
        fn every_valid_link_round_trips_in_both_spellings(
            org in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
            id in any::<u128>().prop_filter("nil is not an id", |v| *v != 0),
            step in proptest::option::of(1u32..=u32::MAX),
        ) {
            let original = GuideLink::new(org, Uuid::from_u128(id), step.and_then(NonZeroU32::new));
            prop_assert_eq!(GuideLink::parse(&original.to_string()), Ok(original.clone()));
            let https = original.to_https("https://guides.example.com").unwrap();
            prop_assert_eq!(GuideLink::parse(&https), Ok(original));
        }
    }
}
