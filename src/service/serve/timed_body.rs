//! Request bodies that must keep arriving (issue 13, finding 3): a body may take a grace period
//! whatever its size and longer only while it arrives at a minimum average rate, so a client
//! dripping a byte now and then cannot hold a connection (and a handler) for ever.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a body that came too slowly ends with; the HTTP layer answers it with 408.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body came too slowly: {received} bytes in {seconds} s (at least {min_rate} bytes/s are needed after the first {grace} s)"
)]
pub struct BodyTooSlow {
    received: u64,
    seconds: u64,
    min_rate: u64,
    grace: u64,
}

pub struct TimedBody<B> {
    inner: B,
    started: Instant,
    received: u64,
    grace: Duration,
    min_rate: u64,
    deadline: Pin<Box<Sleep>>,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, grace: Duration, min_rate: u64) -> Self {
        let started = Instant::now();
        Self {
            inner,
            started,
            received: 0,
            grace,
            min_rate: min_rate.max(1),
            deadline: Box::pin(tokio::time::sleep_until(started + grace)),
        }
    }

    /// The grace period, or as long as the bytes so far would take at the minimum rate.
    fn deadline(&self) -> Instant {
        let at_min_rate = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        self.started + self.grace.max(at_min_rate)
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.deadline();
                    this.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                    received: this.received,
                    seconds: this.started.elapsed().as_secs(),
                    min_rate: this.min_rate,
                    grace: this.grace.as_secs(),
                }))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
