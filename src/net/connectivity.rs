//! Is the guide service reachable? Drives the Offline banner (F2).
//!
//! [`Monitor`] is the rule, pure and driven by the caller's clock: probe outcomes and real
//! request outcomes in, Online/Offline changes and the delay to the next probe out.
//! [`Connectivity`] runs it on a worker thread that probes the service's health endpoint and
//! sends [`ConnectivityEvent`]s over a channel.
//!
//! - A real request that fails with a network error flips to Offline at once: the user just saw
//!   something fail, the banner must say why (within 1 s, F2).
//! - Probes need `failures_to_go_offline` failures in a row to go Offline and
//!   `successes_to_go_online` successes in a row to come back (hysteresis: one lost packet or a
//!   service coming up half-way does not make the banner flap).
//! - Offline, probes back off from `backoff_first` to `backoff_max`. The cap is short (under
//!   a second) because recovery must be noticed within 1 s (F2) and a health probe costs the
//!   service almost nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// The rules in `app::access` own the notion; the monitor only measures it.
pub use crate::app::access::Link;

/// A change of [`Link`], as the app state receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectivityEvent {
    Online,
    Offline,
}

#[derive(Debug, Clone)]
pub struct ConnectivitySettings {
    /// Probe period while online: only there to notice a loss when no request is being made.
    pub online_period: Duration,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// Between the probes that confirm a recovery.
    pub confirm_period: Duration,
    pub failures_to_go_offline: u32,
    pub successes_to_go_online: u32,
    /// A probe that takes longer than this failed.
    pub probe_timeout: Duration,
}

impl Default for ConnectivitySettings {
    fn default() -> Self {
        Self {
            online_period: Duration::from_secs(5),
            backoff_first: Duration::from_millis(100),
            backoff_max: Duration::from_millis(640),
            confirm_period: Duration::from_millis(40),
            failures_to_go_offline: 2,
            successes_to_go_online: 2,
            probe_timeout: Duration::from_millis(800),
        }
    }
}

/// The hysteresis and backoff rule; no threads, no clock of its own.
#[derive(Debug, Clone)]
pub struct Monitor {
    settings: ConnectivitySettings,
    link: Link,
    failures: u32,
    successes: u32,
    backoff: Duration,
}

impl Monitor {
    pub fn new(initial: Link, settings: ConnectivitySettings) -> Self {
        let backoff = settings.backoff_first;
        Self {
            settings,
            link: initial,
            failures: 0,
            successes: 0,
            backoff,
        }
    }

    pub fn link(&self) -> Link {
        self.link
    }

    fn set(&mut self, link: Link) -> Option<Link> {
        (self.link != link).then(|| {
            self.link = link;
            link
        })
    }

    /// A health probe came back (`reachable`) or failed; returns the new link if it changed.
    pub fn probe(&mut self, reachable: bool) -> Option<Link> {
        if reachable {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            self.backoff = self.settings.backoff_first;
            if self.successes >= self.settings.successes_to_go_online {
                return self.set(Link::Online);
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.link == Link::Offline || self.failures > self.settings.failures_to_go_offline {
                self.backoff = (self.backoff * 2).min(self.settings.backoff_max);
            }
            if self.failures >= self.settings.failures_to_go_offline {
                return self.set(Link::Offline);
            }
        }
        None
    }

    /// A real request failed for want of a network: Offline now, no waiting for probes.
    pub fn request_failed(&mut self) -> Option<Link> {
        self.successes = 0;
        self.failures = self.settings.failures_to_go_offline;
        self.backoff = self.settings.backoff_first;
        self.set(Link::Offline)
    }

    /// A real request got an answer: the service is there.
    pub fn request_answered(&mut self) -> Option<Link> {
        self.failures = 0;
        self.successes = self.settings.successes_to_go_online;
        self.backoff = self.settings.backoff_first;
        self.set(Link::Online)
    }

    /// How long to wait before the next probe.
    pub fn next_probe_in(&self) -> Duration {
        match self.link {
            // Confirming a recovery, or a suspected loss: look again soon.
            Link::Offline if self.successes > 0 => self.settings.confirm_period,
            Link::Offline => self.backoff,
            Link::Online if self.failures > 0 => self.backoff,
            Link::Online => self.settings.online_period,
        }
    }
}

enum Command {
    RequestFailed,
    RequestAnswered,
    Stop,
}

/// Tells the monitor how real requests went; cheap to clone into every worker that talks to the
/// service.
#[derive(Clone)]
pub struct Reporter {
    commands: Sender<Command>,
    online: Arc<AtomicBool>,
}

impl Reporter {
    /// Reports the outcome of a real request: a network error flips to Offline at once.
    pub fn report<T>(&self, outcome: &Result<T, super::NetError>) {
        let command = match outcome {
            Err(error) if error.is_network() => Command::RequestFailed,
            _ => Command::RequestAnswered,
        };
        // A stopped monitor has nobody left to tell.
        let _ = self.commands.send(command);
    }

    pub fn link(&self) -> Link {
        if self.online.load(Ordering::Acquire) {
            Link::Online
        } else {
            Link::Offline
        }
    }
}

/// The monitor on its worker thread; stops when dropped.
pub struct Connectivity {
    reporter: Reporter,
    worker: Option<JoinHandle<()>>,
}

impl Connectivity {
    /// Probes once on the caller's thread to know where we start (no event for that), then keeps
    /// probing on a worker thread. `probe` answers "is the service reachable?" within the
    /// settings' `probe_timeout`.
    pub fn spawn(
        probe: impl Fn(Duration) -> bool + Send + 'static,
        settings: ConnectivitySettings,
        events: Sender<ConnectivityEvent>,
    ) -> Self {
        let initial = if probe(settings.probe_timeout) {
            Link::Online
        } else {
            Link::Offline
        };
        let mut monitor = Monitor::new(initial, settings.clone());
        let online = Arc::new(AtomicBool::new(initial == Link::Online));
        let (commands, inbox) = mpsc::channel();
        let shared = online.clone();
        let worker = std::thread::Builder::new()
            .name("connectivity".into())
            .spawn(move || {
                loop {
                    let change = match inbox.recv_timeout(monitor.next_probe_in()) {
                        Err(RecvTimeoutError::Timeout) => {
                            monitor.probe(probe(settings.probe_timeout))
                        }
                        Ok(Command::RequestFailed) => monitor.request_failed(),
                        Ok(Command::RequestAnswered) => monitor.request_answered(),
                        Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                    };
                    if let Some(link) = change {
                        shared.store(link == Link::Online, Ordering::Release);
                        tracing::info!(?link, "connectivity changed");
                        let event = match link {
                            Link::Online => ConnectivityEvent::Online,
                            Link::Offline => ConnectivityEvent::Offline,
                        };
                        // Nobody listening any more is not the monitor's problem.
                        let _ = events.send(event);
                    }
                }
            })
            .ok();
        if worker.is_none() {
            tracing::warn!("no connectivity worker thread; the banner follows real requests only");
        }
        Self {
            reporter: Reporter { commands, online },
            worker,
        }
    }

    pub fn link(&self) -> Link {
        self.reporter.link()
    }

    pub fn reporter(&self) -> Reporter {
        self.reporter.clone()
    }
}

impl Drop for Connectivity {
    fn drop(&mut self) {
        let _ = self.reporter.commands.send(Command::Stop);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ConnectivitySettings {
        ConnectivitySettings::default()
    }

    #[test]
    fn a_failed_request_turns_offline_at_once() {
        let mut monitor = Monitor::new(Link::Online, settings());
        assert_eq!(monitor.request_failed(), Some(Link::Offline));
        assert_eq!(monitor.link(), Link::Offline);
        assert_eq!(monitor.next_probe_in(), settings().backoff_first);
    }

    #[test]
    fn one_lost_probe_does_not_flap_the_banner() {
        let mut monitor = Monitor::new(Link::Online, settings());
        assert_eq!(monitor.probe(false), None);
        assert_eq!(monitor.probe(true), None);
        assert_eq!(monitor.link(), Link::Online);
        assert_eq!(monitor.probe(false), None);
        assert_eq!(monitor.probe(false), Some(Link::Offline));
    }

    #[test]
    fn recovery_needs_successes_in_a_row_and_is_confirmed_quickly() {
        let mut monitor = Monitor::new(Link::Offline, settings());
        assert_eq!(monitor.probe(true), None);
        assert_eq!(monitor.next_probe_in(), settings().confirm_period);
        assert_eq!(monitor.probe(false), None);
        assert_eq!(monitor.probe(true), None);
        assert_eq!(monitor.probe(true), Some(Link::Online));
        assert_eq!(monitor.next_probe_in(), settings().online_period);
    }

    #[test]
    fn offline_probes_back_off_but_never_past_the_cap() {
        let mut monitor = Monitor::new(Link::Offline, settings());
        let mut delays = Vec::new();
        for _ in 0..10 {
            monitor.probe(false);
            delays.push(monitor.next_probe_in());
        }
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(*delays.last().unwrap(), settings().backoff_max);
        // Recovery within 1 s (F2): the longest wait plus two confirming probes and their
        // timeouts on a loopback service.
        assert!(settings().backoff_max + settings().confirm_period * 2 < Duration::from_secs(1));
    }

    #[test]
    fn an_answered_request_is_proof_enough_of_recovery() {
        let mut monitor = Monitor::new(Link::Offline, settings());
        assert_eq!(monitor.request_answered(), Some(Link::Online));
        assert_eq!(monitor.request_answered(), None);
    }
}
