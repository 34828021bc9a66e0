//! Listening: plain HTTP on loopback for tests and behind a reverse proxy, or HTTPS with rustls.
//!
//! TLS handshakes run in their own tasks, so a client that stalls mid-handshake holds up
//! nobody; finished connections are handed to axum through a channel.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use super::Service;
use super::error::ServiceError;
use super::http::router;

/// A client has this long to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

/// Binds `listen` and reports the bound address (port 0 picks a free one) before serving.
pub async fn serve(
    service: Arc<Service>,
    listen: SocketAddr,
    tls: Option<TlsFiles>,
    on_ready: impl FnOnce(SocketAddr, bool),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(ServiceError::io(format!("listening on {listen}")))?;
    let bound = listener
        .local_addr()
        .map_err(ServiceError::io("reading the bound address"))?;
    let app = router(service);
    match tls {
        None => {
            on_ready(bound, false);
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(ServiceError::io("serving HTTP"))
        }
        Some(files) => {
            let acceptor = TlsAcceptor::from(Arc::new(server_config(&files)?));
            on_ready(bound, true);
            axum::serve(TlsListener::start(listener, acceptor), app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(ServiceError::io("serving HTTPS"))
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

struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    fn start(listener: TcpListener, acceptor: TlsAcceptor) -> Self {
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (sender, ready) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then go on.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Self { local_addr, ready }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task holds a sender for as long as the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
