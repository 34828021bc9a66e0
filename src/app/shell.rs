//! The device around the open guide: connectivity (the Offline banner, F2), who is signed in,
//! the All list (F3), a download's progress (F1) and one status line for refusals (F5, F11,
//! F13, F14). Events in, a [`SceneInput`] out; the 3D app and the CLI feed the same events.

use serde::Serialize;

use super::View;
use super::access::{AllListEntry, Link, Refused};
use crate::scene::{KnownAnchor, Pose, SceneInput};

#[derive(Debug, Clone, PartialEq)]
pub enum ShellEvent {
    /// From the connectivity monitor.
    Connectivity(Link),
    SignedIn {
        username: String,
    },
    SignedOut,
    /// Opens the All list with what the cache holds.
    ShowAllList(Vec<AllListEntry>),
    CloseAllList,
    /// Bytes of the current download so far, of its total.
    DownloadProgress {
        done: u64,
        total: u64,
    },
    DownloadFinished,
    /// A rule or the service said no; the reason is shown until the next event that clears it.
    Refused(Refused),
    /// A one-line message (e.g. "Opened from this device's copy").
    Notice(String),
    /// The operator dismissed the status line.
    DismissStatus,
}

/// Where the content on screen came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Network,
    Cache,
    Demo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shell {
    link: Link,
    account: Option<String>,
    all_list: Option<Vec<AllListEntry>>,
    /// The All list's lines as drawn, numbered as they are chosen ("2. Valve check — …");
    /// empty shows F3's exact text.
    #[serde(skip)]
    all_lines: Vec<String>,
    /// 0.0 … 1.0 while a download runs.
    download: Option<f32>,
    status: Option<String>,
}

impl Shell {
    pub fn new(link: Link) -> Self {
        Self {
            link,
            account: None,
            all_list: None,
            all_lines: Vec::new(),
            download: None,
            status: None,
        }
    }

    pub fn handle(&mut self, event: ShellEvent) {
        match event {
            ShellEvent::Connectivity(link) => {
                // Coming back online, "you are offline" reasons no longer hold.
                if link == Link::Online
                    && self.status.as_deref().is_some_and(|s| {
                        s == Refused::SignInNeedsNetwork.to_string()
                            || s == Refused::ReadOnlyOffline.to_string()
                    })
                {
                    self.status = None;
                }
                self.link = link;
            }
            ShellEvent::SignedIn { username } => {
                self.account = Some(username);
                self.status = None;
            }
            ShellEvent::SignedOut => self.account = None,
            ShellEvent::ShowAllList(entries) => {
                self.all_lines = entries
                    .iter()
                    .enumerate()
                    .map(|(i, entry)| format!("{}. {}", i + 1, entry.line()))
                    .collect();
                self.all_list = Some(entries);
            }
            ShellEvent::CloseAllList => {
                self.all_list = None;
                self.all_lines.clear();
            }
            ShellEvent::DownloadProgress { done, total } => {
                let fraction = if total == 0 {
                    1.0
                } else {
                    (done as f64 / total as f64).clamp(0.0, 1.0) as f32
                };
                self.download = Some(fraction);
            }
            ShellEvent::DownloadFinished => self.download = None,
            ShellEvent::Refused(reason) => self.status = Some(reason.to_string()),
            ShellEvent::Notice(text) => self.status = Some(text),
            ShellEvent::DismissStatus => self.status = None,
        }
    }

    pub fn link(&self) -> Link {
        self.link
    }

    /// F2: the Offline banner is up.
    pub fn offline_banner(&self) -> bool {
        self.link == Link::Offline
    }

    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    pub fn all_list(&self) -> Option<&[AllListEntry]> {
        self.all_list.as_deref()
    }

    /// The All list's lines as drawn (none while it is closed; empty: the exact empty text).
    pub fn all_lines(&self) -> Option<&[String]> {
        self.all_list.as_ref().map(|_| self.all_lines.as_slice())
    }

    pub fn download_progress(&self) -> Option<f32> {
        self.download
    }

    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// What the scene draws for this state over the guide's `view`.
    pub fn scene_input<'a>(
        &'a self,
        view: &'a View<'a>,
        head: Pose,
        anchors: &'a [KnownAnchor],
        anchors_tracked: bool,
        step_time_s: f32,
    ) -> SceneInput<'a> {
        SceneInput {
            view,
            online: self.link == Link::Online,
            all_list: self.all_lines(),
            status: self.status.as_deref(),
            prompt: None,
            head,
            anchors,
            anchors_tracked,
            step_time_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::app::{App, GuideSource};
    use crate::scene::{CardFollower, Frame, PanelKind};

    fn demo_app() -> App {
        let guide = crate::demo::load()
            .expect("the demo guide is in the source tree")
            .guide;
        App::open(Arc::new(guide), GuideSource::Demo, None)
    }

    fn frame(shell: &Shell, app: &App) -> Frame {
        let view = app.view();
        let input = shell.scene_input(&view, Pose::standing(), &[], false, 0.0);
        Frame::build(&input, &mut CardFollower::default(), 0.0)
    }

    fn kinds(frame: &Frame) -> Vec<PanelKind> {
        frame.panels.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn f2_the_banner_follows_connectivity_events_both_ways() {
        let app = demo_app();
        let mut shell = Shell::new(Link::Online);
        assert!(!kinds(&frame(&shell, &app)).contains(&PanelKind::OfflineBanner));
        shell.handle(ShellEvent::Connectivity(Link::Offline));
        assert!(shell.offline_banner());
        assert!(kinds(&frame(&shell, &app)).contains(&PanelKind::OfflineBanner));
        shell.handle(ShellEvent::Connectivity(Link::Online));
        assert!(!kinds(&frame(&shell, &app)).contains(&PanelKind::OfflineBanner));
    }

    #[test]
    fn f3_the_all_list_panel_shows_the_cached_guides_or_the_exact_empty_text() {
        let app = demo_app();
        let mut shell = Shell::new(Link::Offline);
        shell.handle(ShellEvent::ShowAllList(Vec::new()));
        let empty = frame(&shell, &app);
        let list = empty
            .panels
            .iter()
            .find(|p| p.kind == PanelKind::AllList)
            .expect("the All list is shown");
        assert!(
            list.texts
                .iter()
                .any(|t| t.text == "No guides are available offline.")
        );
        shell.handle(ShellEvent::ShowAllList(vec![AllListEntry {
            guide_id: Uuid::nil(),
            title: "Pump filter".into(),
            version: 2,
            downloaded_at: datetime!(2026-11-25 08:00 UTC),
            opens_offline: true,
            note: None,
        }]));
        let full = frame(&shell, &app);
        let text: String = full
            .panels
            .iter()
            .flat_map(|p| p.texts.iter().map(|t| t.text.clone()))
            .collect();
        assert!(text.contains("Pump filter — version 2"), "{text}");
        assert!(!text.contains("No guides are available offline."));
    }

    #[test]
    fn f5_the_refusal_is_shown_and_cleared_when_the_network_returns() {
        let app = demo_app();
        let mut shell = Shell::new(Link::Offline);
        shell.handle(ShellEvent::Refused(Refused::SignInNeedsNetwork));
        assert!(kinds(&frame(&shell, &app)).contains(&PanelKind::Toast));
        shell.handle(ShellEvent::Connectivity(Link::Online));
        assert_eq!(shell.status(), None);
    }

    #[test]
    fn f1_download_progress_is_a_fraction_in_the_state() {
        let mut shell = Shell::new(Link::Online);
        shell.handle(ShellEvent::DownloadProgress {
            done: 25,
            total: 100,
        });
        assert_eq!(shell.download_progress(), Some(0.25));
        shell.handle(ShellEvent::DownloadFinished);
        assert_eq!(shell.download_progress(), None);
    }
}
