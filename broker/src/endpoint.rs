//! Where the broker is and how to trust it. A plain `amqp://` URL connects over TCP; an
//! `amqps://` URL over TLS, verifying the broker's certificate against the CA file a site gives
//! (its own CA, as hospitals run) or else the public web roots. The CA is read once, when the
//! endpoint is made, so a wrong path fails at start-up rather than at the first reconnection.

use std::path::{Path, PathBuf};

use lapin::tcp::OwnedTLSConfig;
use lapin::{Connection, ConnectionProperties};

/// A RabbitMQ broker to connect to.
#[derive(Clone)]
pub struct Endpoint {
    url: String,
    ca_pem: Option<String>,
}

/// Why an endpoint could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The CA file could not be read.
    #[error("cannot read the RabbitMQ CA file {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no PEM certificate.
    #[error("the RabbitMQ CA file {0} holds no PEM certificate")]
    NotPem(PathBuf),
    /// A CA was given for a URL that does not use TLS.
    #[error("a RabbitMQ CA file was given but the URL is not amqps://")]
    CaWithoutTls,
}

impl Endpoint {
    /// The broker at `url`, trusting the CA certificates (PEM) in `ca_file` for `amqps://`.
    pub fn new(url: impl Into<String>, ca_file: Option<&Path>) -> Result<Endpoint, EndpointError> {
        let url = url.into();
        let ca_pem = match ca_file {
            None => None,
            Some(_) if !url.starts_with("amqps://") => return Err(EndpointError::CaWithoutTls),
            Some(path) => {
                let pem =
                    std::fs::read_to_string(path).map_err(|source| EndpointError::CaFile {
                        path: path.to_owned(),
                        source,
                    })?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(EndpointError::NotPem(path.to_owned()));
                }
                Some(pem)
            }
        };
        Ok(Endpoint { url, ca_pem })
    }

    /// The URL (it may hold a password: do not log it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a connection.
    pub async fn connect(&self) -> Result<Connection, lapin::Error> {
        let properties = ConnectionProperties::default();
        if !self.url.starts_with("amqps://") {
            return Connection::connect(&self.url, properties).await;
        }
        let tls = OwnedTLSConfig {
            identity: None,
            cert_chain: self.ca_pem.clone(),
        };
        Connection::connect_with_config(
            &self.url,
            properties,
            tls,
            lapin::runtime::default_runtime()?,
        )
        .await
    }
}

/// A plain endpoint (no custom CA), as tests and tools that take only a URL make one.
impl From<String> for Endpoint {
    fn from(url: String) -> Endpoint {
        Endpoint { url, ca_pem: None }
    }
}

impl From<&str> for Endpoint {
    fn from(url: &str) -> Endpoint {
        Endpoint::from(url.to_owned())
    }
}

/// Never shows the URL, which may hold a password.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("tls", &self.url.starts_with("amqps://"))
            .field("custom_ca", &self.ca_pem.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_needs_an_amqps_url_and_a_pem_certificate() {
        let dir = std::env::temp_dir().join(format!("ward-broker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, "hello").ok();
        assert!(matches!(
            Endpoint::new("amqp://h/", Some(&not_pem)),
            Err(EndpointError::CaWithoutTls)
        ));
        assert!(matches!(
            Endpoint::new("amqps://h/", Some(&not_pem)),
            Err(EndpointError::NotPem(_))
        ));
        assert!(matches!(
            Endpoint::new("amqps://h/", Some(&dir.join("missing.pem"))),
            Err(EndpointError::CaFile { .. })
        ));
        assert!(!format!("{:?}", Endpoint::from("amqp://guest:secret@h/")).contains("secret"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
