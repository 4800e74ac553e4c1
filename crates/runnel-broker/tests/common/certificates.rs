//! Certificates made by the tests: a CA, the broker's keystore, clients' certificates.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};

/// A certificate authority able to sign server and client certificates.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    pub fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        Authority {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A certificate for `localhost`/127.0.0.1 (or a client) with the given subject, as
    /// a PEM chain followed by its key.
    pub fn sign(&self, common_name: &str, organisation: Option<&str>) -> String {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let mut subject = DistinguishedName::new();
        if let Some(organisation) = organisation {
            subject.push(DnType::OrganizationName, organisation);
        }
        subject.push(DnType::CommonName, common_name);
        params.distinguished_name = subject;
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        format!("{}{}", certificate.pem(), key.serialize_pem())
    }
}

/// The files of a TLS test: the CA, the broker's keystore, clients' certificates.
pub struct Files {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub authority: Authority,
}

impl Files {
    pub fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let authority = Authority::new("Runnel test CA");
        std::fs::write(root.join("ca.pem"), &authority.pem).unwrap();
        std::fs::write(
            root.join("broker.pem"),
            authority.sign("broker-1", Some("Runnel")),
        )
        .unwrap();
        Files {
            _dir: dir,
            root,
            authority,
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.root.join(name).display().to_string()
    }

    /// Writes a client's certificate and key as two files, as librdkafka and kcat take them.
    pub fn client(&self, authority: &Authority, name: &str) -> (String, String) {
        let pem = authority.sign(name, Some("Runnel"));
        let split = pem.find("-----BEGIN PRIVATE KEY").unwrap();
        let (certificate, key) = (
            self.path(&format!("{name}.crt")),
            self.path(&format!("{name}.key")),
        );
        std::fs::write(&certificate, &pem[..split]).unwrap();
        std::fs::write(&key, &pem[split..]).unwrap();
        (certificate, key)
    }
}
