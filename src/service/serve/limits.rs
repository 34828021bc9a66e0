//! What one client may hold of the service's connections (issue 13, finding 3): caps on
//! connections in all and per source address, and the timeouts that end the ones that stall.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::service::model::address_block;

/// File descriptors kept back from connections for the database, blob files and the listener.
const RESERVED_FILE_DESCRIPTORS: usize = 256;

#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// A client must send a whole request head within this long of connecting or of the end of
    /// its previous answer (hyper's header timer also runs while a kept-alive connection waits
    /// for its next request, so this is the idle timeout too).
    pub header_timeout: Duration,
    /// A request body may take this long whatever its size …
    pub body_grace: Duration,
    /// … and longer only while it arrives at this many bytes/s on average.
    pub min_body_rate: u64,
    /// Open connections in all; further ones are answered 503 and closed.
    pub max_connections: usize,
    /// Open connections from one address (IPv6: one /64).
    pub max_connections_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(15),
            body_grace: Duration::from_secs(30),
            min_body_rate: 1024,
            max_connections: 4096,
            max_connections_per_address: 256,
        }
    }
}

impl ConnectionLimits {
    /// The cap lowered to what the process's file-descriptor limit allows (raised to its hard
    /// limit first), so accepting never fails for want of descriptors.
    pub fn fitted_to_open_file_limit(mut self) -> Self {
        let Some(available) = raise_open_file_limit() else {
            return self;
        };
        let fits = available.saturating_sub(RESERVED_FILE_DESCRIPTORS).max(1);
        if self.max_connections > fits {
            tracing::warn!(
                "at most {fits} connections: the open-file limit is {available} (raise it to allow {})",
                self.max_connections
            );
            self.max_connections = fits;
        }
        self
    }
}

/// Raises the soft open-file limit to the hard one; the soft limit now in force.
fn raise_open_file_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

/// Counts of open connections, in all and per address block.
#[derive(Debug)]
pub struct Slots {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    block: IpAddr,
}

impl Slots {
    pub fn new(limits: &ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            max_total: limits.max_connections,
            max_per_address: limits.max_connections_per_address,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for a connection from `peer`, or `None` when either cap is reached.
    pub fn take(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        let block = address_block(peer);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_address) = &mut *open;
        let from_here = per_address.entry(block).or_insert(0);
        if *total >= self.max_total || *from_here >= self.max_per_address {
            if *from_here == 0 {
                per_address.remove(&block);
            }
            return None;
        }
        *from_here += 1;
        *total += 1;
        Some(Slot {
            slots: self.clone(),
            block,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_address) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(count) = per_address.get_mut(&self.block) {
            *count -= 1;
            if *count == 0 {
                per_address.remove(&self.block);
            }
        }
    }
}

/// What a plain-HTTP client over a cap reads before the connection closes.
pub const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 68\r\n\r\n{\"error\":\"busy\",\"message\":\"too many connections; try again in 1 s\"}\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_declares_its_body_length() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }

    #[test]
    fn slots_cap_connections_per_address_and_in_all_and_come_back_when_dropped() {
        let slots = Slots::new(&ConnectionLimits {
            max_connections: 3,
            max_connections_per_address: 2,
            ..ConnectionLimits::default()
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert!(slots.take(a).is_none(), "a third from one address");
        let _third = slots.take(b).unwrap();
        assert!(slots.take(c).is_none(), "a fourth in all");
        drop(first);
        assert!(slots.take(c).is_some());
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_their_count() {
        let slots = Slots::new(&ConnectionLimits {
            max_connections_per_address: 1,
            ..ConnectionLimits::default()
        });
        let _held = slots.take("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(slots.take("2001:db8:1:2::ffff".parse().unwrap()).is_none());
        assert!(slots.take("2001:db8:1:3::1".parse().unwrap()).is_some());
    }
}
