//! S7 in the app: the offline profile's updates offered to the operator ("Updates available:
//! 3 guides, 12 MiB — Download now / Later"), raised by the device's background sync through
//! [`DeviceNews`](super::device::DeviceNews) and answered through the driver with the same
//! inputs as the All list: selecting a button (a ray, a pinch, gaze dwell) or its number
//! (1: Download now, 2: Later). Pure: the offer comes in as values, the answer goes out to the
//! [`Surroundings`](super::device::Surroundings).

use serde::Serialize;

/// What the background sync would download, offered to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateOffer {
    /// The guides the download brings (new ones and newer versions), by title.
    pub guides: Vec<String>,
    pub bytes: u64,
    /// `bytes` as people read it ("12.4 MiB"), made by the device.
    pub size: String,
}

impl UpdateOffer {
    /// The question on the panel.
    pub fn question(&self) -> String {
        let count = self.guides.len();
        format!(
            "Updates available: {count} guide{}, {}",
            if count == 1 { "" } else { "s" },
            self.size
        )
    }
}

/// The operator's answer to an [`UpdateOffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateAnswer {
    DownloadNow,
    /// Not now: the next sync cycle asks again.
    Later,
}

impl UpdateAnswer {
    /// The prompt's answer chosen by number, as an All list entry is (1: Download now, 2: Later).
    pub fn numbered(number: usize) -> Option<Self> {
        match number {
            1 => Some(Self::DownloadNow),
            2 => Some(Self::Later),
            _ => None,
        }
    }

    /// As reports say it: "download now", "later".
    pub fn label(self) -> &'static str {
        match self {
            Self::DownloadNow => "download now",
            Self::Later => "later",
        }
    }

    /// The status line once answered.
    pub fn status(self, offer: &UpdateOffer) -> String {
        match self {
            Self::DownloadNow => format!("Downloading updates: {}…", offer.size),
            Self::Later => "Updates postponed: you will be asked again at the next sync.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(guides: &[&str]) -> UpdateOffer {
        UpdateOffer {
            guides: guides.iter().map(|g| (*g).to_owned()).collect(),
            bytes: 13_002_342,
            size: "12.4 MiB".into(),
        }
    }

    #[test]
    fn s7_the_prompt_says_how_many_guides_and_how_many_bytes() {
        assert_eq!(
            offer(&["Pump", "Valve", "Filter"]).question(),
            "Updates available: 3 guides, 12.4 MiB"
        );
        assert_eq!(
            offer(&["Pump"]).question(),
            "Updates available: 1 guide, 12.4 MiB"
        );
    }

    #[test]
    fn s7_the_answers_are_numbered_as_the_all_list_is() {
        assert_eq!(UpdateAnswer::numbered(1), Some(UpdateAnswer::DownloadNow));
        assert_eq!(UpdateAnswer::numbered(2), Some(UpdateAnswer::Later));
        assert_eq!(UpdateAnswer::numbered(3), None);
        assert_eq!(UpdateAnswer::numbered(0), None);
    }
}
