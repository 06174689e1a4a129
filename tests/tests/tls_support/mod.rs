//! A certificate authority made for a test, shared by the TLS tests (`net_tls`,
//! `cluster_network`).

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rcos::net::NodeConfig;

/// A certificate authority made for the test.
pub(crate) struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    pub(crate) fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// This authority's certificate (PEM), to trust.
    pub(crate) fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A node certificate (PEM) and its key, valid for `names` (DNS names or IP
    /// addresses), for both ends of a connection.
    pub(crate) fn issue(&self, names: &[&str]) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A node configuration with TLS under this authority (a certificate for localhost
    /// and 127.0.0.1) and `secret`.
    pub(crate) fn node_config(&self, secret: &[u8]) -> NodeConfig {
        let (cert, key) = self.issue(&["localhost", "127.0.0.1"]);
        NodeConfig::new()
            .secret(secret.to_vec())
            // Long, so that a refusal that came from a timeout would show.
            .handshake_timeout(Duration::from_secs(20))
            .tls(cert.as_bytes(), key.as_bytes(), self.pem().as_bytes())
            .unwrap()
    }
}
