//! TLS and mTLS on the core's gRPC API, with certificates made at run time (rcgen): a client that
//! trusts the CA is served, a plaintext client is refused, and with a client CA only callers with a
//! certificate signed by it get through.

use std::time::Duration;

use herald_client::{Client, ClientError};
use herald_server::CoreConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

const TOKEN: &str = "tls-test-token";

/// A CA and a certificate (with its key) it signed for `names`, all PEM.
struct Pki {
    ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self {
            ca_pem: issuer.pem(),
            issuer,
        }
    }

    /// (certificate PEM, key PEM) for `names`.
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

struct Running {
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(tls: ServerTlsConfig) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let config = CoreConfig {
        service_tokens: vec![TOKEN.into()],
        tls: Some(tls),
        ..CoreConfig::default()
    };
    tokio::spawn(herald_server::run(listener, config, async {
        let _ = rx.await;
    }));
    Running { addr, _stop: tx }
}

fn trusting(ca: &str) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost")
}

async fn stats(url: &str, tls: Option<ClientTlsConfig>) -> Result<u32, ClientError> {
    let call = async {
        let mut c = Client::connect_with(url, TOKEN, tls).await?;
        Ok(c.stats().await?.edges)
    };
    tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the call neither succeeded nor failed in time")
}

#[tokio::test]
async fn tls_serves_clients_that_trust_the_ca_and_refuses_plaintext() {
    let pki = Pki::new();
    let (cert, key) = pki.leaf(&["localhost"]);
    let core = start(ServerTlsConfig::new().identity(Identity::from_pem(cert, key))).await;
    let https = format!("https://{}", core.addr);

    assert_eq!(stats(&https, Some(trusting(&pki.ca_pem))).await.unwrap(), 0);

    let plain = stats(&format!("http://{}", core.addr), None).await;
    assert!(plain.is_err(), "plaintext must be refused: {plain:?}");

    let other = Pki::new();
    let untrusted = stats(&https, Some(trusting(&other.ca_pem))).await;
    assert!(
        untrusted.is_err(),
        "a certificate from an unknown CA must fail: {untrusted:?}"
    );
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_signed_by_the_client_ca() {
    let servers = Pki::new();
    let clients = Pki::new();
    let (cert, key) = servers.leaf(&["localhost"]);
    let core = start(
        ServerTlsConfig::new()
            .identity(Identity::from_pem(cert, key))
            .client_ca_root(Certificate::from_pem(&clients.ca_pem)),
    )
    .await;
    let https = format!("https://{}", core.addr);

    let anonymous = stats(&https, Some(trusting(&servers.ca_pem))).await;
    assert!(anonymous.is_err(), "no client certificate: {anonymous:?}");

    let (c, k) = servers.leaf(&["backend"]);
    let wrong_ca = stats(
        &https,
        Some(trusting(&servers.ca_pem).identity(Identity::from_pem(c, k))),
    )
    .await;
    assert!(
        wrong_ca.is_err(),
        "a client certificate of another CA: {wrong_ca:?}"
    );

    let (c, k) = clients.leaf(&["backend"]);
    let ok = stats(
        &https,
        Some(trusting(&servers.ca_pem).identity(Identity::from_pem(c, k))),
    )
    .await;
    assert_eq!(ok.unwrap(), 0);
}
