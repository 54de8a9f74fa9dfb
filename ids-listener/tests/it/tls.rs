//! MLLP over TLS, with and without client certificates.

use std::path::PathBuf;
use std::sync::Arc;

use ids_listener::tls::{TlsFiles, acceptor};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use testkit::TestDb;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::harness::{Client, Options, TestListener, adt};

/// A throwaway PKI: a CA, a server certificate for localhost and a client certificate.
struct Pki {
    dir: PathBuf,
    ca_der: CertificateDer<'static>,
    client_chain: Vec<CertificateDer<'static>>,
    client_key_der: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(testkit::unique_name("ward-tls"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(vec!["integration-engine".to_owned()]).unwrap();
        client.distinguished_name = rcgen::DistinguishedName::new();
        client
            .distinguished_name
            .push(DnType::CommonName, "integration-engine");
        client
            .distinguished_name
            .push(DnType::OrganizationName, "Hospital");
        let client = client.signed_by(&client_key, &ca).unwrap();
        std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki {
            dir,
            ca_der: ca.der().clone(),
            client_chain: vec![client.der().clone()],
            client_key_der: client_key.serialize_der(),
        }
    }

    fn files(&self, mutual: bool) -> TlsFiles {
        TlsFiles {
            cert: self.dir.join("server.pem"),
            key: self.dir.join("server.key"),
            client_ca: mutual.then(|| self.dir.join("ca.pem")),
        }
    }

    fn connector(&self, with_client_cert: bool) -> TlsConnector {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key_der.clone()));
            builder
                .with_client_auth_cert(self.client_chain.clone(), key)
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        TlsConnector::from(Arc::new(config))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn tls_listener(pki: &Pki, mutual: bool) -> TestListener {
    TestListener::start_with(
        TestDb::migrated().await,
        Options {
            tls: Some(acceptor(&pki.files(mutual)).unwrap()),
            ..Default::default()
        },
    )
    .await
}

async fn connect(
    listener: &TestListener,
    connector: TlsConnector,
) -> std::io::Result<Client<tokio_rustls::client::TlsStream<TcpStream>>> {
    let tcp = TcpStream::connect(listener.tls_addr.unwrap()).await?;
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    Ok(Client::new(stream))
}

#[tokio::test]
async fn mllp_over_tls_stores_and_acks() {
    let pki = Pki::new();
    let listener = tls_listener(&pki, false).await;
    let mut client = connect(&listener, pki.connector(false)).await.unwrap();
    let ack = client.send(&adt("TLS-1", "2.5.1")).await;
    assert_eq!(
        (ack.code().as_str(), ack.acked_control_id().as_str()),
        ("AA", "TLS-1")
    );
    let rows = listener.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].transport, "mllp+tls");
    assert_eq!(
        rows[0].client_certificate_subject, None,
        "no client certificate"
    );
}

#[tokio::test]
async fn mutual_tls_accepts_a_client_certificate_and_refuses_its_absence() {
    let pki = Pki::new();
    let listener = tls_listener(&pki, true).await;
    let mut trusted = connect(&listener, pki.connector(true)).await.unwrap();
    assert_eq!(trusted.send(&adt("MTLS-OK", "2.5.1")).await.code(), "AA");

    // Without a certificate the handshake fails (TLS 1.3 may report it on the first read).
    if let Ok(mut anonymous) = connect(&listener, pki.connector(false)).await {
        anonymous
            .send_raw(&{
                let mut f = vec![0x0B];
                f.extend(adt("MTLS-NO", "2.5.1"));
                f.extend([0x1C, 0x0D]);
                f
            })
            .await;
        assert!(
            anonymous.recv().await.is_none(),
            "no ACK without a client certificate"
        );
    }
    let rows = listener.rows().await;
    let controls: Vec<_> = rows.iter().map(|r| r.control_id.clone().unwrap()).collect();
    assert_eq!(controls, ["MTLS-OK"]);
    // The IDS says which sender's certificate sent it.
    let subject = rows[0].client_certificate_subject.as_deref().unwrap_or("");
    assert!(
        subject.contains("CN=integration-engine") && subject.contains("O=Hospital"),
        "{subject}"
    );
}
