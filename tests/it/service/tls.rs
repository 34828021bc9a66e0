//! HTTPS with rustls: a certificate made at test time, trusted by the client as its CA.

use super::*;

#[test]
fn the_service_answers_over_tls_with_a_certificate_the_client_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    admin_json(&data, &["init"]);
    add_user(&data, "alice", "operator", &[]);
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server = Server::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let trusted = Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let response = trusted
        .post(server.url("/v1/session"))
        .json(&serde_json::json!({ "username": "alice", "password": password("alice"), "device_id": "d" }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
    let untrusting = Client::builder().build().unwrap();
    assert!(
        untrusting.get(server.url("/v1/health")).send().is_err(),
        "a client that does not trust the certificate cannot talk to the service"
    );
    let plain = server.url("/v1/health").replacen("https://", "http://", 1);
    assert!(
        client()
            .get(plain)
            .send()
            .map(|r| !r.status().is_success())
            .unwrap_or(true),
        "plain HTTP gets no answer from the TLS port"
    );
}

#[test]
fn a_key_that_is_not_pem_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    admin_json(&data, &["init"]);
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let output = admin(
        &data,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cert.pem"));
}
