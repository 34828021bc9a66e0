//! The All list in the 3D front ends (F3): opened and closed by the menu input, filled by the
//! device's answer (never computed on the frame thread), and an entry chosen by its number.
//! The list's lines and the status line come from the app's [`Shell`], the same rules the CLI's
//! `hologuide guides` prints with.

use uuid::Uuid;

use super::access::{AllListEntry, Link, all_list_lines};
use super::device::{Content, DeviceNews, Surroundings};
use super::shell::{Shell, ShellEvent};
use super::updates::UpdateOffer;

/// What changed after [`Menu::poll`], for the front end to act on and to report.
pub enum MenuChange {
    /// The All list is on screen with these lines (the exact empty text when nothing is cached).
    ListShown(Vec<String>),
    /// Show this guide instead of the one on screen.
    Open {
        content: Content,
        title: String,
        version: u32,
    },
    /// A line was put on the status panel (a refusal, or how the guide was opened).
    Status(String),
    /// S7: the background sync offers updates; the driver asks the operator.
    UpdatesOffered(UpdateOffer),
    /// N6: an answer is kept on the device at `time`.
    Kept {
        run: u32,
        step_id: String,
        time: String,
    },
}

/// The All list's state over the driver's one [`Shell`] (which also holds the link and the
/// status line).
pub struct Menu {
    shell: Shell,
    /// The operator wants the list on screen (it may not have arrived yet).
    wanted: bool,
    /// A guide was chosen and its opening has not been answered yet.
    opening: bool,
    /// Guides and titles of the last All list received.
    titles: Vec<(Uuid, String)>,
}

impl Menu {
    pub fn new(link: Link) -> Self {
        Self {
            shell: Shell::new(link),
            wanted: false,
            opening: false,
            titles: Vec::new(),
        }
    }

    pub fn shell(&self) -> &Shell {
        &self.shell
    }

    /// F2: the link as the banner shows it.
    pub fn connectivity(&mut self, link: Link) {
        if self.shell.link() != link {
            self.shell.handle(ShellEvent::Connectivity(link));
        }
    }

    /// The menu input: opens the All list (asking the device for it) or closes it.
    pub fn toggle(&mut self, surroundings: &dyn Surroundings) -> Option<MenuChange> {
        if self.wanted {
            self.close();
            return None;
        }
        self.wanted = true;
        self.shell.handle(ShellEvent::DismissStatus);
        surroundings.list_guides().map(|entries| self.show(entries))
    }

    pub fn close(&mut self) {
        self.wanted = false;
        self.shell.handle(ShellEvent::CloseAllList);
    }

    /// Whether the All list is on screen.
    pub fn is_open(&self) -> bool {
        self.shell.all_list().is_some()
    }

    /// Entry `number` (from 1, as shown) of the list on screen is chosen: the device opens it.
    /// Nothing happens when the list is closed, still opening another guide, or has no such
    /// entry (the status line says so).
    pub fn choose(&mut self, number: usize, surroundings: &dyn Surroundings) -> Option<MenuChange> {
        let Some(entries) = self.shell.all_list() else {
            tracing::info!("guide {number} chosen while the All list is not shown: ignored");
            return None;
        };
        if self.opening {
            tracing::info!("guide {number} chosen while another guide opens: ignored");
            return None;
        }
        let Some(entry) = number.checked_sub(1).and_then(|i| entries.get(i)) else {
            let text = format!(
                "There is no guide number {number} in the list (it has {}).",
                entries.len()
            );
            self.shell.handle(ShellEvent::Notice(text.clone()));
            return Some(MenuChange::Status(text));
        };
        let (guide, title) = (entry.guide_id, entry.title.clone());
        Some(self.open(guide, &title, surroundings))
    }

    /// Asks the device to open `guide` (chosen, or a sticker's confirmed); the outcome arrives
    /// through [`Self::poll`].
    pub fn open(
        &mut self,
        guide: Uuid,
        title: &str,
        surroundings: &dyn Surroundings,
    ) -> MenuChange {
        let text = format!("Opening {title}…");
        surroundings.open_guide(guide);
        self.opening = true;
        self.say(text)
    }

    /// A line on the status panel (a sticker's question).
    pub fn say(&mut self, text: String) -> MenuChange {
        self.shell.handle(ShellEvent::Notice(text.clone()));
        MenuChange::Status(text)
    }

    /// A guide is being opened and the device has not answered yet.
    pub fn is_opening(&self) -> bool {
        self.opening
    }

    /// The title of `guide` as the last All list named it (no I/O: what the device sent).
    pub fn title_of(&self, guide: Uuid) -> Option<&str> {
        self.titles
            .iter()
            .find(|(id, _)| *id == guide)
            .map(|(_, title)| title.as_str())
    }

    /// The device's answers that arrived since the last frame.
    pub fn poll(&mut self, surroundings: &dyn Surroundings) -> Vec<MenuChange> {
        let mut changes = Vec::new();
        while let Some(news) = surroundings.news() {
            match news {
                DeviceNews::AllList(entries) if self.wanted => changes.push(self.show(entries)),
                // Closed before it arrived: the operator no longer wants it.
                DeviceNews::AllList(_) => {}
                DeviceNews::Opened {
                    content,
                    title,
                    version,
                    notice,
                } => {
                    self.opening = false;
                    self.close();
                    match notice {
                        Some(text) => {
                            self.shell.handle(ShellEvent::Notice(text.clone()));
                            changes.push(MenuChange::Status(text));
                        }
                        None => self.shell.handle(ShellEvent::DismissStatus),
                    }
                    changes.push(MenuChange::Open {
                        content,
                        title,
                        version,
                    });
                }
                DeviceNews::Refused(text) => {
                    self.opening = false;
                    self.shell.handle(ShellEvent::Notice(text.clone()));
                    changes.push(MenuChange::Status(text));
                }
                DeviceNews::UpdatesAvailable(offer) => {
                    changes.push(MenuChange::UpdatesOffered(offer));
                }
                DeviceNews::Synced(text) => changes.push(self.say(text)),
                DeviceNews::Kept { run, step_id, time } => {
                    changes.push(MenuChange::Kept { run, step_id, time });
                }
            }
        }
        changes
    }

    /// The operator moved on (a step, a button): the status line has been read.
    pub fn dismiss_status(&mut self) {
        if !self.opening {
            self.shell.handle(ShellEvent::DismissStatus);
        }
    }

    /// The All list's lines for the scene (empty: the scene shows the exact empty text).
    pub fn lines(&self) -> Option<&[String]> {
        self.shell.all_lines()
    }

    pub fn status(&self) -> Option<&str> {
        self.shell.status()
    }

    /// The list on screen; the lines reported are those drawn, or the exact empty text.
    fn show(&mut self, entries: Vec<AllListEntry>) -> MenuChange {
        self.titles = entries
            .iter()
            .map(|e| (e.guide_id, e.title.clone()))
            .collect();
        let empty = all_list_lines(&entries);
        self.shell.handle(ShellEvent::ShowAllList(entries));
        match self.shell.all_lines() {
            Some(lines) if !lines.is_empty() => MenuChange::ListShown(lines.to_vec()),
            _ => MenuChange::ListShown(empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::Arc;

    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::app::access::NO_GUIDES_OFFLINE;
    use crate::app::device::Standalone;
    use crate::app::{GuideSource, Transition};

    /// A device that answers later, as the live worker does.
    #[derive(Default)]
    struct Later {
        asked: RefCell<Vec<String>>,
        answers: RefCell<Vec<DeviceNews>>,
    }

    impl Surroundings for Later {
        fn online(&self) -> bool {
            false
        }
        fn screen_changed(&self, _: &Transition) {}
        fn list_guides(&self) -> Option<Vec<AllListEntry>> {
            self.asked.borrow_mut().push("list".into());
            None
        }
        fn open_guide(&self, guide: Uuid) {
            self.asked.borrow_mut().push(format!("open {guide}"));
        }
        fn news(&self) -> Option<DeviceNews> {
            let mut answers = self.answers.borrow_mut();
            (!answers.is_empty()).then(|| answers.remove(0))
        }
    }

    fn entry(n: u128, title: &str) -> AllListEntry {
        AllListEntry {
            guide_id: Uuid::from_u128(n),
            title: title.into(),
            version: 1,
            downloaded_at: datetime!(2026-11-25 08:00 UTC),
            opens_offline: true,
            note: None,
        }
    }

    #[test]
    fn f3_without_an_account_the_all_list_shows_the_exact_empty_text_at_once() {
        let mut menu = Menu::new(Link::Online);
        let Some(MenuChange::ListShown(lines)) = menu.toggle(&Standalone) else {
            panic!("the list is shown at once");
        };
        assert_eq!(lines, vec![NO_GUIDES_OFFLINE.to_owned()]);
        // The scene gets no lines, and draws the exact empty text itself.
        assert_eq!(menu.lines(), Some(&[][..]));
        menu.toggle(&Standalone);
        assert!(!menu.is_open());
    }

    #[test]
    fn f3_the_all_list_arrives_later_and_an_entry_chosen_by_number_is_opened() {
        let device = Later::default();
        let mut menu = Menu::new(Link::Online);
        assert!(menu.toggle(&device).is_none(), "asked, not there yet");
        assert!(!menu.is_open());
        device.answers.borrow_mut().push(DeviceNews::AllList(vec![
            entry(1, "Pump"),
            entry(2, "Valve"),
        ]));
        let changes = menu.poll(&device);
        let [MenuChange::ListShown(lines)] = &changes[..] else {
            panic!("one list shown");
        };
        assert!(lines[1].starts_with("2. Valve — version 1"), "{lines:?}");
        assert!(menu.is_open());

        menu.choose(2, &device);
        assert_eq!(
            *device.asked.borrow(),
            vec!["list".to_owned(), format!("open {}", Uuid::from_u128(2))]
        );
        assert_eq!(menu.status(), Some("Opening Valve…"));
        // Chosen again while the first is opening: nothing more is asked.
        menu.choose(1, &device);
        assert_eq!(device.asked.borrow().len(), 2);

        let guide = crate::demo::load().expect("the demo guide");
        device.answers.borrow_mut().push(DeviceNews::Opened {
            content: Content::from_package(Arc::new(guide), GuideSource::Service),
            title: "Valve".into(),
            version: 1,
            notice: Some("Opened from this device's copy.".into()),
        });
        let changes = menu.poll(&device);
        assert!(matches!(changes.last(), Some(MenuChange::Open { title, .. }) if title == "Valve"));
        assert!(!menu.is_open(), "the list closes when the guide is shown");
        assert_eq!(menu.status(), Some("Opened from this device's copy."));
    }

    #[test]
    fn a_number_past_the_list_or_a_refused_open_says_why_and_keeps_the_list() {
        let device = Later::default();
        let mut menu = Menu::new(Link::Online);
        menu.toggle(&device);
        device
            .answers
            .borrow_mut()
            .push(DeviceNews::AllList(vec![entry(1, "Pump")]));
        menu.poll(&device);
        menu.choose(3, &device);
        assert_eq!(
            menu.status(),
            Some("There is no guide number 3 in the list (it has 1).")
        );
        menu.choose(0, &device);
        assert_eq!(device.asked.borrow().len(), 1, "nothing opened");
        menu.choose(1, &device);
        device
            .answers
            .borrow_mut()
            .push(DeviceNews::Refused("The lease has passed.".into()));
        menu.poll(&device);
        assert_eq!(menu.status(), Some("The lease has passed."));
        assert!(menu.is_open());
    }
}
