//! Listening: plain HTTP on loopback for tests and behind a reverse proxy, or HTTPS with rustls.
//!
//! Connections are driven here with hyper rather than by `axum::serve`, for the limits of issue
//! 13 (finding 3): a cap on connections in all and per address ([`limits`]), a header timeout
//! that also ends idle kept-alive connections, and request bodies that must keep arriving
//! ([`timed_body`]). Each connection, TLS handshake included, runs in its own task, so a client
//! that stalls holds up nobody.

mod limits;
mod timed_body;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};
use tower_service::Service as _;

pub use limits::ConnectionLimits;
pub use timed_body::BodyTooSlow;

use super::Service;
use super::error::ServiceError;
use super::http::router;
use limits::{REFUSAL, Slot, Slots};
use timed_body::TimedBody;

/// A client has this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's read buffer per connection may grow to this while a request head arrives (its default
/// is about 400 KiB: 4096 connections could hold 1.6 GB); a longer head is refused with 431.
const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

/// Binds `listen` and reports the bound address (port 0 picks a free one) before serving. On
/// `shutdown` it stops accepting and finishes the requests in flight.
pub async fn serve(
    service: Arc<Service>,
    listen: SocketAddr,
    tls: Option<TlsFiles>,
    limits: ConnectionLimits,
    on_ready: impl FnOnce(SocketAddr, bool),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let listener = bind(listen).map_err(ServiceError::io(format!("listening on {listen}")))?;
    let bound = listener
        .local_addr()
        .map_err(ServiceError::io("reading the bound address"))?;
    let acceptor = match &tls {
        Some(files) => Some(TlsAcceptor::from(Arc::new(server_config(files)?))),
        None => None,
    };
    let limits = Arc::new(limits.fitted_to_open_file_limit());
    let slots = Slots::new(&limits);
    let app = router(service);
    let graceful = GracefulShutdown::new();
    on_ready(bound, acceptor.is_some());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = slots.take(peer.ip()) else {
            tracing::debug!("refused a connection from {peer}: too many connections");
            if acceptor.is_none() {
                // Best effort and never waiting: the socket buffer of a new connection is empty.
                let _ = stream.try_write(REFUSAL);
            }
            continue;
        };
        let connection = Connection {
            app: app.clone(),
            peer,
            limits: limits.clone(),
            watcher: graceful.watcher(),
            _slot: slot,
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match acceptor {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => connection.serve(tls).await,
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Connections the kernel may complete before they are accepted: a burst (or an attacker's
/// flood) waits there instead of losing SYNs, each of which costs its client a 1 s retransmit.
/// Linux caps it at `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if listen.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted service takes its port back at once, as with `TcpListener::bind`.
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    socket.listen(LISTEN_BACKLOG)
}

/// One accepted connection and what it needs to be served.
struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: Arc<ConnectionLimits>,
    watcher: Watcher,
    /// Held until the connection ends.
    _slot: Slot,
}

impl Connection {
    async fn serve<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (app, peer, limits) = (self.app, self.peer, self.limits.clone());
        let per_request =
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                // What axum's `ConnectInfo` extractor reads (the sign-in throttle counts per address).
                request.extensions_mut().insert(ConnectInfo(peer));
                let request = request.map(|body| {
                    axum::body::Body::new(TimedBody::new(
                        body,
                        limits.body_grace,
                        limits.min_body_rate,
                    ))
                });
                let mut app = app.clone();
                async move {
                    Ok::<_, Infallible>(app.call(request).await.unwrap_or_else(|e| match e {}))
                }
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_buf_size(MAX_REQUEST_HEAD_BYTES)
            .keep_alive(true);
        let connection = builder.serve_connection(TokioIo::new(io), per_request);
        if let Err(e) = self.watcher.watch(connection).await {
            tracing::debug!("connection from {peer} ended: {e}");
        }
    }
}

fn server_config(files: &TlsFiles) -> Result<ServerConfig, ServiceError> {
    let unreadable = |path: &Path, e: &dyn std::fmt::Display| {
        ServiceError::Invalid(format!("cannot read {}: {e}", path.display()))
    };
    let certificates = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| unreadable(&files.certificate, &e))?;
    if certificates.is_empty() {
        return Err(ServiceError::Invalid(format!(
            "{} holds no PEM certificate",
            files.certificate.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.private_key)
        .map_err(|e| unreadable(&files.private_key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServiceError::Internal(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|e| {
            ServiceError::Invalid(format!("the TLS certificate and key do not fit: {e}"))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
