//! The HTTP client of the guide service's API (`/v1/…`), blocking, over reqwest with rustls.
//! Every failure comes back as a typed [`NetError`]: no network, the service's refusal with its
//! message, or an answer this device cannot read.

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;

use super::error::{NetError, refusal_of};
use super::limits::{
    Bounded, MAX_ERROR_ANSWER, MAX_LIST_ANSWER, MAX_MANIFEST_ANSWER, MAX_OBJECT_ANSWER, human_bytes,
};
use super::wire::{
    ErrorBody, GuideInfo, IngestOutcome, LinkTarget, Manifest, ProfileManifest, Session,
    StepResult, TelemetryEvent, TelemetrySummary,
};

/// An answer fetched with `If-None-Match`.
#[derive(Debug, Clone, PartialEq)]
pub enum Conditional<T> {
    /// 304: the copy with this ETag is still current.
    Unchanged,
    /// The answer, and its ETag to send next time.
    Changed { value: T, etag: Option<String> },
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long to wait for a connection. Short: on a loopback or factory LAN a service that
    /// does not accept within this is as good as absent, and the banner must show quickly (F2).
    pub connect_timeout: Duration,
    /// How long any single wait (the answer, the next chunk of a body) may take.
    pub read_timeout: Duration,
    /// PEM certificates to trust for an `https://` service with a private CA.
    pub extra_roots_pem: Option<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(30),
            extra_roots_pem: None,
        }
    }
}

/// One guide service, by its base URL (`http://127.0.0.1:8443`).
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: Client,
    base: String,
    read_timeout: Duration,
}

impl ApiClient {
    pub fn new(server: &str, options: &ClientOptions) -> Result<Self, NetError> {
        let base = normalise_base(server)?;
        let mut builder = Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.read_timeout)
            // Loopback and plant networks: a proxy from the environment would only get in the way.
            .no_proxy()
            .user_agent(concat!("hologuide/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.extra_roots_pem {
            for certificate in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                NetError::InvalidServer(format!("{server} (its CA certificates: {e})"))
            })? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().map_err(|e| NetError::Protocol {
            server: base.clone(),
            detail: format!("the HTTP client could not be set up: {e}"),
        })?;
        Ok(Self {
            http,
            base,
            read_timeout: options.read_timeout,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn server(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /v1/health` within `timeout`: the connectivity probe.
    pub fn health(&self, timeout: Duration) -> Result<(), NetError> {
        let response = self.send(self.http.get(self.url("/v1/health")).timeout(timeout))?;
        self.check(response).map(|_| ())
    }

    pub fn sign_in(
        &self,
        username: &str,
        password: &str,
        device_id: &str,
    ) -> Result<Session, NetError> {
        let body = json!({ "username": username, "password": password, "device_id": device_id });
        self.json(
            self.http.post(self.url("/v1/session")).json(&body),
            Answer::object("the sign-in"),
        )
    }

    /// Trades the refresh token for a new pair; the service rolls the 90-day window (F10).
    pub fn refresh(&self, refresh_token: &str) -> Result<Session, NetError> {
        let body = json!({ "refresh_token": refresh_token });
        self.json(
            self.http.post(self.url("/v1/session/refresh")).json(&body),
            Answer::object("the session refresh"),
        )
    }

    pub fn sign_out(&self, access_token: &str) -> Result<(), NetError> {
        let request = self
            .http
            .delete(self.url("/v1/session"))
            .bearer_auth(access_token);
        self.check(self.send(request)?).map(|_| ())
    }

    pub fn guides(&self, access_token: &str) -> Result<Vec<GuideInfo>, NetError> {
        self.json(
            self.http
                .get(self.url("/v1/guides"))
                .bearer_auth(access_token),
            Answer::list("the list of guides"),
        )
    }

    /// The guide's latest metadata; 403 when the permission is gone (F14), 410 once deactivated
    /// (F13).
    pub fn guide(&self, access_token: &str, id: Uuid) -> Result<GuideInfo, NetError> {
        self.json(
            self.http
                .get(self.url(&format!("/v1/guides/{id}")))
                .bearer_auth(access_token),
            Answer::object("the guide's details"),
        )
    }

    pub fn manifest(
        &self,
        access_token: &str,
        id: Uuid,
        version: u32,
    ) -> Result<Manifest, NetError> {
        let path = format!("/v1/guides/{id}/versions/{version}");
        self.json(
            self.http.get(self.url(&path)).bearer_auth(access_token),
            Answer {
                what: "the guide's manifest",
                limit: MAX_MANIFEST_ANSWER,
            },
        )
    }

    /// The signed-in member's offline profile as the device should hold it (S2, S7, S8);
    /// `Unchanged` when `etag` (the last answer's) still holds. 404 when the member is in no
    /// profile.
    pub fn profile_manifest(
        &self,
        access_token: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<ProfileManifest>, NetError> {
        let mut request = self
            .http
            .get(self.url("/v1/me/profile/manifest"))
            .bearer_auth(access_token);
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let response = self.send(request)?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Conditional::Unchanged);
        }
        let response = self.check(response)?;
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 256)
            .map(str::to_owned);
        let value = self.read_json(response, Answer::list("the offline profile"))?;
        Ok(Conditional::Changed { value, etag })
    }

    /// What a guide link names, checked by the service like any other access.
    pub fn resolve_link(
        &self,
        access_token: &str,
        organisation: &str,
        id: Uuid,
    ) -> Result<GuideInfo, NetError> {
        let path = format!("/v1/links/{organisation}/g/{id}");
        let target: LinkTarget = self.json(
            self.http.get(self.url(&path)).bearer_auth(access_token),
            Answer::object("the guide link"),
        )?;
        Ok(target.guide)
    }

    /// Uploads telemetry events and summaries; the service recognises what it already has by
    /// their ids (F9).
    pub fn upload_telemetry(
        &self,
        access_token: &str,
        events: &[TelemetryEvent],
        summaries: &[TelemetrySummary],
    ) -> Result<IngestOutcome, NetError> {
        let body = json!({ "events": events, "summaries": summaries });
        self.json(
            self.http
                .post(self.url("/v1/telemetry"))
                .bearer_auth(access_token)
                .json(&body),
            Answer::list("the telemetry upload"),
        )
    }

    /// Uploads step results made on the device; the service recognises what it already has
    /// by their ids and says why it refuses any (N5, S6).
    pub fn upload_results(
        &self,
        access_token: &str,
        results: &[StepResult],
    ) -> Result<IngestOutcome, NetError> {
        let body = json!({ "results": results });
        self.json(
            self.http
                .post(self.url("/v1/results"))
                .bearer_auth(access_token)
                .json(&body),
            Answer::list("the results upload"),
        )
    }

    /// `PUT /v1/photos/{sha256}`: a photo a step answer names (N6), sent before the record.
    /// Sending one the service has already is fine: it answers the same.
    pub fn upload_photo(
        &self,
        access_token: &str,
        sha256: &str,
        jpeg: Vec<u8>,
    ) -> Result<(), NetError> {
        let request = self
            .http
            .put(self.url(&format!("/v1/photos/{sha256}")))
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
            .body(jpeg);
        self.check(self.send(request)?).map(|_| ())
    }

    /// `GET /v1/blobs/{sha256}`, from byte `from` on when resuming. The response is checked
    /// (2xx) but its body is left to the caller to stream.
    pub fn blob(&self, access_token: &str, sha256: &str, from: u64) -> Result<Response, NetError> {
        self.blob_within(access_token, sha256, from, None)
    }

    /// [`ApiClient::blob`] within `time_left` of a download's deadline, when it has one.
    pub fn blob_within(
        &self,
        access_token: &str,
        sha256: &str,
        from: u64,
        time_left: Option<Duration>,
    ) -> Result<Response, NetError> {
        let mut request = self
            .http
            .get(self.url(&format!("/v1/blobs/{sha256}")))
            .bearer_auth(access_token);
        if let Some(time_left) = time_left.filter(|t| *t < self.read_timeout) {
            // A request's timeout is its total time, body included, and also the longest wait
            // for one read: set only when it is the shorter of the two, so a stalled connection
            // is still given up after the read timeout on long downloads.
            request = request.timeout(time_left);
        }
        if from > 0 {
            // If-Range: a server holding other bytes under this name sends them all (200).
            request = request
                .header(reqwest::header::RANGE, format!("bytes={from}-"))
                .header(reqwest::header::IF_RANGE, format!("\"{sha256}\""));
        }
        self.check(self.send(request)?)
    }

    pub(crate) fn network_error(&self, error: &reqwest::Error) -> NetError {
        NetError::Unreachable {
            server: self.base.clone(),
            detail: describe(error),
        }
    }

    fn send(&self, request: RequestBuilder) -> Result<Response, NetError> {
        request.send().map_err(|e| self.network_error(&e))
    }

    /// Passes 2xx answers through; turns the rest into the service's refusal.
    fn check(&self, response: Response) -> Result<Response, NetError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut text = Vec::new();
        response
            .take(MAX_ERROR_ANSWER)
            .read_to_end(&mut text)
            .map_err(|e| self.cut_off(&e))?;
        Err(match serde_json::from_slice::<ErrorBody>(&text) {
            Ok(body) => NetError::Refused {
                refusal: refusal_of(status.as_u16(), &body.error),
                status: status.as_u16(),
                code: body.error,
                message: body.message,
            },
            // A proxy's HTML page or a gateway error: no message of ours to show.
            Err(_)
                if status == StatusCode::BAD_GATEWAY
                    || status == StatusCode::SERVICE_UNAVAILABLE
                    || status == StatusCode::GATEWAY_TIMEOUT =>
            {
                NetError::Unreachable {
                    server: self.base.clone(),
                    detail: format!("a gateway answered {status}"),
                }
            }
            Err(_) => NetError::Protocol {
                server: self.base.clone(),
                detail: format!("status {status} with a body that is not the service's JSON"),
            },
        })
    }

    /// Reads the answer as it arrives and stops at its bound: an endless or huge answer costs
    /// at most `answer.limit` bytes of reading, never memory in proportion.
    fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        answer: Answer,
    ) -> Result<T, NetError> {
        let response = self.check(self.send(request)?)?;
        self.read_json(response, answer)
    }

    /// Reads a checked answer's JSON body within its bound.
    fn read_json<T: DeserializeOwned>(
        &self,
        response: Response,
        answer: Answer,
    ) -> Result<T, NetError> {
        let too_large = || NetError::TooLarge {
            server: self.base.clone(),
            what: answer.what.to_owned(),
            limit: human_bytes(answer.limit),
        };
        if response.content_length().is_some_and(|n| n > answer.limit) {
            return Err(too_large());
        }
        let mut body = Bounded::new(response, answer.limit);
        let parsed = serde_json::from_reader(std::io::BufReader::new(&mut body));
        parsed.map_err(|e| {
            if body.exceeded() {
                too_large()
            } else if e.is_io() {
                NetError::Unreachable {
                    server: self.base.clone(),
                    detail: format!("the answer for {} broke off: {e}", answer.what),
                }
            } else if e.is_data() {
                NetError::Protocol {
                    server: self.base.clone(),
                    detail: format!("{} does not read as expected: {e}", answer.what),
                }
            } else {
                NetError::Protocol {
                    server: self.base.clone(),
                    detail: format!("malformed JSON in {}: {e}", answer.what),
                }
            }
        })
    }

    fn cut_off(&self, error: &std::io::Error) -> NetError {
        NetError::Unreachable {
            server: self.base.clone(),
            detail: format!("the answer broke off: {error}"),
        }
    }
}

/// What a JSON answer is (for messages) and how many bytes of it are read at most.
#[derive(Debug, Clone, Copy)]
struct Answer {
    what: &'static str,
    limit: u64,
}

impl Answer {
    fn object(what: &'static str) -> Self {
        Self {
            what,
            limit: MAX_OBJECT_ANSWER,
        }
    }

    fn list(what: &'static str) -> Self {
        Self {
            what,
            limit: MAX_LIST_ANSWER,
        }
    }
}

/// `http(s)://host[:port][/prefix]` without a trailing slash; anything else is refused before
/// any request goes out.
fn normalise_base(server: &str) -> Result<String, NetError> {
    let trimmed = server.trim().trim_end_matches('/');
    let invalid = || NetError::InvalidServer(server.chars().take(200).collect());
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(invalid)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#', ' ']) || reqwest::Url::parse(trimmed).is_err() {
        return Err(invalid());
    }
    Ok(trimmed.to_owned())
}

/// reqwest's error with its causes, which is where "connection refused" hides.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    let mut last = String::new();
    while let Some(cause) = source {
        last = cause.to_string();
        source = cause.source();
    }
    if !last.is_empty() {
        text.push_str(": ");
        text.push_str(&last);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_addresses_are_checked_before_any_request() {
        assert_eq!(
            normalise_base("http://127.0.0.1:8443/").unwrap(),
            "http://127.0.0.1:8443"
        );
        assert_eq!(
            normalise_base(" https://guides.example/api ").unwrap(),
            "https://guides.example/api"
        );
        for bad in [
            "",
            "127.0.0.1:8443",
            "ftp://x",
            "http://",
            "http://a b",
            "http://x/?q",
        ] {
            assert!(
                matches!(normalise_base(bad), Err(NetError::InvalidServer(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refusals_map_to_what_the_rules_need() {
        use super::super::Refusal;
        assert_eq!(refusal_of(403, "forbidden"), Refusal::Forbidden);
        assert_eq!(refusal_of(410, "guide_deactivated"), Refusal::Deactivated);
        assert_eq!(
            refusal_of(401, "invalid_credentials"),
            Refusal::Unauthorized
        );
        assert_eq!(refusal_of(404, "not_found"), Refusal::NotFound);
        assert_eq!(refusal_of(500, "internal"), Refusal::Other);
    }
}
