//! `hologuide demo --backend window` and the choice `--backend auto` makes.

use std::path::Path;

use hologuide::app::View;
use hologuide::xr::window::{Cause, Observer};

/// Why there is no display to open a window on, or None when one is named.
pub fn display_missing() -> Option<String> {
    let named = |v: &str| std::env::var_os(v).is_some_and(|d| !d.is_empty());
    if named("DISPLAY") {
        None
    } else if named("WAYLAND_DISPLAY") {
        Some("only WAYLAND_DISPLAY is set, and this build opens windows on X11 only".into())
    } else {
        Some("DISPLAY is not set".into())
    }
}

/// Prints what the window does: one line per screen shown (JSON with `--json`).
pub struct Printer {
    pub json: bool,
    /// A line to print once the window is open.
    pub announce: Option<String>,
}

impl Observer for Printer {
    fn opened(&mut self, gpu: &str) {
        if let Some(line) = self.announce.take() {
            eprintln!("{line}");
        }
        eprintln!(
            "window open, rendering on {gpu}; N/B next/back, M All list (1-9 opens), O offline, Esc quits"
        );
    }

    fn shown(&mut self, frame: u64, view: &View<'_>, cause: Cause) {
        let line = if self.json {
            let mut value = super::demo::view_json(view);
            value["frame"] = frame.into();
            value["cause"] = cause.to_string().into();
            value.to_string()
        } else {
            match view {
                View::Step(step) => format!(
                    "step {} of {} · {} ({cause})",
                    step.step_number, step.step_count, step.title
                ),
                View::Complete { step_count, .. } => {
                    format!("all {step_count} steps done ({cause})")
                }
            }
        };
        // A closed pipe must not stop the window: the line is informational.
        let _ = super::out(&format!("{line}\n"));
    }

    fn online_changed(&mut self, frame: u64, online: bool) {
        let line = if self.json {
            serde_json::json!({ "frame": frame, "online": online }).to_string()
        } else if online {
            "online".to_owned()
        } else {
            "offline (banner shown)".to_owned()
        };
        let _ = super::out(&format!("{line}\n"));
    }

    fn written(&mut self, path: &Path) {
        eprintln!("wrote {}", path.display());
    }

    fn all_list(&mut self, frame: u64, lines: &[String]) {
        let line = if self.json {
            serde_json::json!({ "frame": frame, "all_list": lines }).to_string()
        } else {
            format!(
                "All\n{}",
                lines.iter().map(|l| format!("  {l}\n")).collect::<String>()
            )
            .trim_end()
            .to_owned()
        };
        let _ = super::out(&format!("{line}\n"));
    }

    fn guide_opened(&mut self, frame: u64, title: &str, version: u32) {
        let line = if self.json {
            serde_json::json!({ "frame": frame, "guide_opened": { "title": title, "version": version } })
                .to_string()
        } else {
            format!("opened {title} — version {version}")
        };
        let _ = super::out(&format!("{line}\n"));
    }

    fn status(&mut self, frame: u64, text: &str) {
        let line = if self.json {
            serde_json::json!({ "frame": frame, "status": text }).to_string()
        } else {
            text.to_owned()
        };
        let _ = super::out(&format!("{line}\n"));
    }

    fn answered(&mut self, frame: u64, line: &str) {
        let line = if self.json {
            serde_json::json!({ "frame": frame, "answer": line }).to_string()
        } else {
            format!("answered {line}")
        };
        let _ = super::out(&format!("{line}\n"));
    }
}
