//! Certificates for loopback TLS servers (the TLS Valkey/Redis server, the fault proxy's TLS
//! front): a certificate authority of a test's own and a certificate for 127.0.0.1 it issued,
//! so clients trust the server through that one CA and nothing else.

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};

/// A CA and the 127.0.0.1 server certificate it issued, all PEM.
pub struct LoopbackCertificates {
    /// The CA's certificate: what a client adds to its roots.
    pub ca_pem: String,
    /// The server's certificate for 127.0.0.1.
    pub server_pem: String,
    /// The server certificate's private key.
    pub server_key_pem: String,
}

impl LoopbackCertificates {
    /// A new CA and server certificate (fresh keys each time).
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca_cert, &ca_key)
            .unwrap();
        LoopbackCertificates {
            ca_pem: ca_cert.pem(),
            server_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }

    /// Writes `ca.crt`, `server.crt` and `server.key` into `dir` (a server reading files).
    pub fn write_to(&self, dir: &std::path::Path) {
        std::fs::write(dir.join("ca.crt"), &self.ca_pem).unwrap();
        std::fs::write(dir.join("server.crt"), &self.server_pem).unwrap();
        std::fs::write(dir.join("server.key"), &self.server_key_pem).unwrap();
    }

    /// A rustls server configuration presenting the server certificate.
    pub fn server_config(&self) -> rustls::ServerConfig {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = vec![CertificateDer::from_pem_slice(self.server_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).unwrap();
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap()
    }
}

impl Default for LoopbackCertificates {
    fn default() -> Self {
        Self::new()
    }
}
