//! `GET /v1/blobs/{sha256}`: content-addressed assets with ETag, Range and Content-Length, so a
//! device resumes a broken download where it stopped.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::{ApiError, ApiPath, AppState};
use crate::service::error::ServiceError;
use crate::service::model::Caller;

/// What a `Range` header asks of a blob of a known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No range, or one we may ignore (malformed, several ranges): the whole blob.
    Full,
    /// Bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// The range starts at or beyond the end: 416.
    Unsatisfiable,
}

/// Parses a single `bytes=` range (RFC 9110 §14.1.2). Malformed headers are ignored, as the RFC
/// allows; several ranges are answered with the whole blob.
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |text: &str| text.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            None => RangeRequest::Full,
        },
        (false, _) => {
            let Some(start) = parse(first) else {
                return RangeRequest::Full;
            };
            let end = if last.is_empty() {
                None
            } else {
                match parse(last) {
                    Some(end) if end >= start => Some(end),
                    _ => return RangeRequest::Full,
                }
            };
            if start >= size {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Partial {
                start,
                end: end.map_or(size - 1, |end| end.min(size - 1)),
            }
        }
        (true, true) => RangeRequest::Full,
    }
}

/// Bytes read from the blob file per body frame: large frames keep a download of a big guide
/// from paying a file read and a frame per 64 KiB (the blocking client crosses threads per frame).
const BODY_CHUNK: usize = 1024 * 1024;
/// Frames read ahead of the socket.
const FRAMES_AHEAD: usize = 4;

/// `length` bytes of `file` from `start`, read on a blocking thread straight into the frames
/// hyper sends. (`tokio::fs` reads into its own buffer and copies out of it, one thread hop per
/// read: measured half again the server's CPU time per download, on the same two cores as the
/// device in tests and benchmarks.) A file shorter than its recorded size ends the body with
/// an error, so the client sees a broken download, never wrong bytes.
fn file_frames(
    mut file: std::fs::File,
    start: u64,
    length: u64,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    use std::io::{Read, Seek, SeekFrom};
    let (frames, receiver) = tokio::sync::mpsc::channel(FRAMES_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut read = || -> std::io::Result<()> {
            file.seek(SeekFrom::Start(start))?;
            let mut left = length;
            while left > 0 {
                let take = left.min(BODY_CHUNK as u64) as usize;
                let mut frame = BytesMut::zeroed(take);
                file.read_exact(&mut frame)?;
                left -= take as u64;
                if frames.blocking_send(Ok(frame.freeze())).is_err() {
                    // The client went away.
                    return Ok(());
                }
            }
            Ok(())
        };
        if let Err(error) = read() {
            let _ = frames.blocking_send(Err(error));
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (frame, receiver))
    })
}

fn header_value(text: &str) -> HeaderValue {
    // Built from digits, hex and fixed words only: always a valid header value.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(sha256): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = sha256.clone();
    let (path, size) = state.run(move |s| s.blob_for(&caller, &key)).await?;
    let etag = format!("\"{sha256}\"");
    let matches_etag = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|tag| tag.trim() == etag || tag.trim() == "*")
            })
    };
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::ETAG, header_value(&etag));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // Content-addressed: the bytes behind this URL never change.
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if matches_etag(header::IF_NONE_MATCH) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    // If-Range with another validator: the client's partial copy is stale, send everything.
    let range_applies = headers.get(header::IF_RANGE).is_none() || matches_etag(header::IF_RANGE);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(text) if range_applies => parse_range(text, size),
        _ => RangeRequest::Full,
    };
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let (status, start, length) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, size),
        RangeRequest::Partial { start, end } => {
            response_headers.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {start}-{end}/{size}")),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            let mut response = ApiError(ServiceError::RangeNotSatisfiable(format!(
                "the range starts beyond the end of the blob ({size} bytes)"
            )))
            .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return Ok(response);
        }
    };
    let file = std::fs::File::open(&path)
        .map_err(|e| ApiError(ServiceError::io(format!("opening blob {sha256}"))(e)))?;
    response_headers.insert(header::CONTENT_LENGTH, header_value(&length.to_string()));
    let body = Body::from_stream(file_frames(file, start, length));
    Ok((status, response_headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        use RangeRequest::*;
        assert_eq!(
            parse_range("bytes=0-99", 1000),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=900-", 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-100", 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            parse_range("bytes=-5000", 1000),
            Partial { start: 0, end: 999 }
        );
        assert_eq!(
            parse_range("bytes=990-5000", 1000),
            Partial {
                start: 990,
                end: 999
            }
        );
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5000-6000", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), Full);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Full);
        assert_eq!(parse_range("items=0-1", 1000), Full);
        assert_eq!(parse_range("bytes=x-1", 1000), Full);
    }
}
