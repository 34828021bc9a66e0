//! What a QR payload may do (X2, F7): a guide link — `hologuide://…` or the service's
//! `https://…/l/…` — opens its guide (at its step); anything else a camera may see on a factory
//! floor (another company's URL, plain text, a Wi-Fi configuration, a business card, binary
//! data, a multi-kilobyte code) is never opened, only named in one log line.
//!
//! Pure and total: every byte string gets an answer, none panics, none is read past
//! [`MAX_LINK_LEN`].

use std::fmt;

use super::link::{GuideLink, LinkError, MAX_LINK_LEN, SCHEME};

/// Why a payload opens nothing; `Display` is the log line's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    Empty,
    /// More bytes than any guide link has (a guide link is at most [`MAX_LINK_LEN`]).
    TooLong(usize),
    /// Not UTF-8 text, or text with control characters: data, not a link.
    Binary(usize),
    /// `WIFI:T:WPA;S:…;P:…;;` — joining networks is not the app's business.
    WifiConfig,
    /// `BEGIN:VCARD` / `MECARD:` — a business card.
    ContactCard,
    /// A URL of another scheme or another site (the scheme as seen).
    OtherUrl(String),
    /// Shaped like our link (our scheme, or an https `…/l/…` path) but not a valid one.
    BadGuideLink(LinkError),
    /// Words, a serial number, anything without a scheme.
    PlainText,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "an empty code"),
            Self::TooLong(n) => write!(f, "{n} bytes, longer than any guide link ({MAX_LINK_LEN})"),
            Self::Binary(n) => write!(f, "{n} bytes of binary data, not a link"),
            Self::WifiConfig => write!(f, "a Wi-Fi configuration"),
            Self::ContactCard => write!(f, "a contact card"),
            Self::OtherUrl(scheme) => write!(f, "a {scheme} address that is not a guide link"),
            Self::BadGuideLink(e) => write!(f, "a malformed guide link: {e}"),
            Self::PlainText => write!(f, "plain text, not a link"),
        }
    }
}

/// The one rule: the guide link a payload opens, or why it opens nothing.
pub fn guide_link_in(payload: &[u8]) -> Result<GuideLink, Ignored> {
    if payload.is_empty() {
        return Err(Ignored::Empty);
    }
    if payload.len() > MAX_LINK_LEN {
        return Err(Ignored::TooLong(payload.len()));
    }
    let text = std::str::from_utf8(payload)
        .ok()
        // Line breaks and tabs are text (cards, scanners' trailing newline); other control
        // characters mean data.
        .filter(|t| {
            !t.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        })
        .map(str::trim)
        .ok_or(Ignored::Binary(payload.len()))?;
    if text.is_empty() {
        return Err(Ignored::Empty);
    }
    let upper = text.get(..11).unwrap_or(text).to_ascii_uppercase();
    if upper.starts_with("WIFI:") {
        return Err(Ignored::WifiConfig);
    }
    if upper.starts_with("BEGIN:VCARD") || upper.starts_with("MECARD:") {
        return Err(Ignored::ContactCard);
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(if looks_like_uri(text) {
            Ignored::OtherUrl(scheme_of(text))
        } else {
            Ignored::PlainText
        });
    };
    let ours = scheme.eq_ignore_ascii_case(SCHEME);
    let web = scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http");
    if !ours && !web {
        return Err(Ignored::OtherUrl(shorten_scheme(scheme)));
    }
    match GuideLink::parse(text) {
        Ok(link) => Ok(link),
        Err(e) if ours || rest.contains("/l/") => Err(Ignored::BadGuideLink(e)),
        Err(_) => Err(Ignored::OtherUrl(shorten_scheme(scheme))),
    }
}

/// `mailto:a@b`, `tel:+49…`, `geo:…`: a scheme of letters followed by a colon, no space.
fn looks_like_uri(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme.len() <= 32
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !text.contains(' ')
    })
}

fn scheme_of(text: &str) -> String {
    shorten_scheme(text.split_once(':').map_or(text, |(s, _)| s))
}

/// Schemes are named in the log; a long one is cut so a hostile code cannot flood it.
fn shorten_scheme(scheme: &str) -> String {
    scheme
        .chars()
        .take(32)
        .collect::<String>()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    const DEMO: &str = "5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d";

    #[test]
    fn a_hologuide_link_opens_its_guide_at_its_step() {
        let link = guide_link_in(format!("hologuide://hologuide-demo/g/{DEMO}/s/3\n").as_bytes())
            .expect("a guide link");
        assert_eq!(link.guide.to_string(), DEMO);
        assert_eq!(link.step, NonZeroU32::new(3));
    }

    #[test]
    fn the_services_https_link_opens_its_guide_too() {
        let link = guide_link_in(
            format!("https://guides.example.com/l/hologuide-demo/g/{DEMO}/s/2").as_bytes(),
        )
        .expect("a service link");
        assert_eq!(link.step, NonZeroU32::new(2));
    }

    #[test]
    fn an_arbitrary_url_is_ignored() {
        assert_eq!(
            guide_link_in(b"https://example.com/careers?id=4"),
            Err(Ignored::OtherUrl("https".into()))
        );
        assert_eq!(
            guide_link_in(b"mailto:service@example.com"),
            Err(Ignored::OtherUrl("mailto".into()))
        );
        assert_eq!(
            guide_link_in(b"ftp://files.example.com/x"),
            Err(Ignored::OtherUrl("ftp".into()))
        );
    }

    #[test]
    fn a_broken_link_of_ours_is_ignored_and_says_what_is_wrong() {
        let e = guide_link_in(b"hologuide://hologuide-demo/g/not-a-uuid").unwrap_err();
        assert!(matches!(
            e,
            Ignored::BadGuideLink(LinkError::InvalidGuideId(_))
        ));
        assert!(e.to_string().contains("not-a-uuid"), "{e}");
    }

    #[test]
    fn plain_text_is_ignored() {
        assert_eq!(
            guide_link_in("Pump CP-200, serial 4411".as_bytes()),
            Err(Ignored::PlainText)
        );
    }

    #[test]
    fn a_wifi_configuration_is_ignored() {
        assert_eq!(
            guide_link_in(b"WIFI:T:WPA;S:factory-floor;P:hunter2;;"),
            Err(Ignored::WifiConfig)
        );
    }

    #[test]
    fn a_contact_card_is_ignored() {
        let vcard = b"BEGIN:VCARD\nVERSION:3.0\nFN:Jane Doe\nEND:VCARD\n";
        assert_eq!(guide_link_in(vcard), Err(Ignored::ContactCard));
        assert_eq!(
            guide_link_in(b"MECARD:N:Doe,Jane;TEL:123;;"),
            Err(Ignored::ContactCard)
        );
    }

    /// 2,953 bytes: the most a version-40 L code holds in byte mode.
    #[test]
    fn a_binary_payload_of_the_largest_code_is_ignored() {
        let payload: Vec<u8> = (0..2953u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(guide_link_in(&payload), Err(Ignored::TooLong(2953)));
        let short_binary = [0x00, 0xff, 0x10, 0x80, 0x7f];
        assert_eq!(guide_link_in(&short_binary), Err(Ignored::Binary(5)));
    }

    #[test]
    fn a_multi_kilobyte_link_shaped_text_is_ignored() {
        let long = format!("hologuide://hologuide-demo/g/{DEMO}/{}", "a".repeat(3000));
        assert!(matches!(
            guide_link_in(long.as_bytes()),
            Err(Ignored::TooLong(_))
        ));
    }

    #[test]
    fn empty_and_control_characters_are_ignored() {
        assert_eq!(guide_link_in(b""), Err(Ignored::Empty));
        assert_eq!(guide_link_in(b" \n"), Err(Ignored::Empty));
        let bell = format!("hologuide://hologuide-demo/g/{DEMO}\u{7}");
        assert_eq!(
            guide_link_in(bell.as_bytes()),
            Err(Ignored::Binary(bell.len()))
        );
    }
}
