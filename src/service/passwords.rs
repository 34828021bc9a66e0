//! Password checks on a bounded pool (issue 13, finding 2).
//!
//! An argon2 check costs about 19 MiB and tens of milliseconds of one core, and anyone may ask
//! for one by trying to sign in. So checks run on a fixed number of worker threads, each of
//! which allocates its argon2 memory once and reuses it for every check: the memory held is
//! `workers × 19 MiB` however many clients try at once, and none of it is freed and re-taken
//! per check (which left glibc's arenas holding gigabytes after a burst). Checks wait in a queue
//! of fixed length; when it is full the request is refused at once with
//! [`ServiceError::Busy`] instead of waiting or allocating.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use super::error::ServiceError;
use super::secrets::{ArgonMemory, verify_password_in};

/// How long a refused client is told to wait before trying again.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Workers when the configuration does not say: one per core the process may use, so sign-in
/// throughput is what the machine can give.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Checks allowed to wait for a worker, per worker, when the configuration does not say: a
/// waiting client is answered within about this many check times.
pub const DEFAULT_QUEUE_PER_WORKER: usize = 4;

struct Check {
    password: String,
    stored_hash: String,
    answer: SyncSender<bool>,
}

pub struct PasswordPool {
    queue: SyncSender<Check>,
    workers: usize,
    queue_limit: usize,
}

impl PasswordPool {
    /// Starts `workers` threads (at least one) with room for `queue_limit` waiting checks.
    pub fn start(workers: usize, queue_limit: usize) -> Result<Self, ServiceError> {
        let workers = workers.max(1);
        let (queue, waiting) = mpsc::sync_channel::<Check>(queue_limit);
        let waiting = Arc::new(Mutex::new(waiting));
        for index in 0..workers {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("password-{index}"))
                .spawn(move || work(&waiting))
                .map_err(|e| ServiceError::Internal(format!("starting a password worker: {e}")))?;
        }
        Ok(Self {
            queue,
            workers,
            queue_limit,
        })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn queue_limit(&self) -> usize {
        self.queue_limit
    }

    /// `true` when `password` matches the stored PHC string; waits for a worker. Refused with
    /// [`ServiceError::Busy`] when the queue is full.
    pub fn verify(&self, password: &str, stored_hash: &str) -> Result<bool, ServiceError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let check = Check {
            password: password.to_owned(),
            stored_hash: stored_hash.to_owned(),
            answer,
        };
        match self.queue.try_send(check) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ServiceError::Busy {
                    what: "password checks",
                    retry_after_secs: BUSY_RETRY_AFTER_SECS,
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ServiceError::Internal(
                    "the password workers have stopped".into(),
                ));
            }
        }
        answered
            .recv()
            .map_err(|_| ServiceError::Internal("a password worker failed".into()))
    }
}

/// One worker: takes checks until the pool is dropped. Its argon2 memory is allocated at its
/// first check and kept.
fn work(waiting: &Mutex<Receiver<Check>>) {
    let mut memory = ArgonMemory::default();
    loop {
        let next = match waiting.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(check) = next else { return };
        let matches = verify_password_in(&mut memory, &check.password, &check.stored_hash);
        // The asker may have gone (its connection closed); nothing to tell then.
        let _ = check.answer.send(matches);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::secrets::hash_password;

    #[test]
    fn a_pool_answers_checks_and_refuses_beyond_its_queue() {
        let stored = hash_password("correct horse").unwrap();
        let pool = Arc::new(PasswordPool::start(1, 1).unwrap());
        assert!(pool.verify("correct horse", &stored).unwrap());
        assert!(!pool.verify("wrong horse", &stored).unwrap());
        // 1 worker + 1 waiting: of 8 checks asked at once, some are refused as busy.
        let outcomes: Vec<_> = (0..8)
            .map(|_| {
                let (pool, stored) = (pool.clone(), stored.clone());
                std::thread::spawn(move || pool.verify("wrong horse", &stored))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let busy = outcomes
            .iter()
            .filter(|o| matches!(o, Err(ServiceError::Busy { .. })))
            .count();
        assert!(busy >= 1, "{outcomes:?}");
        assert!(outcomes.iter().any(|o| matches!(o, Ok(false))));
    }
}
