//! TLS for the HTTP endpoint, with rustls (ring): the rustls server configuration built from a
//! web config's `tls_server_config`, rebuilt when the certificate, key or client CA files
//! change on disk (cert-manager, a renewed Let's Encrypt certificate) or on SIGHUP.
//!
//! Go's names are kept: cipher suites as `crypto/tls` spells them (they restrict TLS 1.2, as in
//! Go; TLS 1.3's suites are always on), curves as `CurveP256`, `X25519`. What rustls does
//! not implement (CBC and RSA key exchange suites, P-521, TLS below 1.2) is an error naming
//! it, never a silent downgrade.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::crypto::SupportedKxGroup;
use rustls::crypto::ring::{cipher_suite, kx_group};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;

use crate::shorten::quote;

/// `tls_server_config` of the web config file, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    /// Inline PEM, in place of `cert_file`.
    pub cert: Option<String>,
    /// Inline PEM, in place of `key_file`.
    pub key: Option<String>,
    /// Inline PEM, in place of `client_ca_file`.
    pub client_ca: Option<String>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub client_ca_file: Option<PathBuf>,
    pub client_auth_type: ClientAuth,
    pub client_allowed_sans: Vec<String>,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
    pub cipher_suites: Vec<String>,
    pub prefer_server_cipher_suites: bool,
    pub curve_preferences: Vec<String>,
}

impl Default for TlsServerConfig {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            client_ca: None,
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            client_auth_type: ClientAuth::NoClientCert,
            client_allowed_sans: Vec::new(),
            min_version: None,
            max_version: None,
            cipher_suites: Vec::new(),
            prefer_server_cipher_suites: true,
            curve_preferences: Vec::new(),
        }
    }
}

/// Go's `tls.ClientAuthType` names, as the toolkit takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsVersion {
    TLS10,
    TLS11,
    TLS12,
    TLS13,
}

impl TlsServerConfig {
    /// The toolkit serves plain HTTP when neither a certificate nor a key is given.
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
            || self.cert_file.is_some()
            || self.key.is_some()
            || self.key_file.is_some()
    }

    /// Checks what needs no file read: a mistake names its key.
    pub fn validate(&self) -> Result<(), String> {
        let both = |inline: &Option<String>, file: &Option<PathBuf>, name: &str| {
            if inline.is_some() && file.is_some() {
                Err(format!(
                    "tls_server_config: give either {name} or {name}_file, not both"
                ))
            } else {
                Ok(inline.is_some() || file.is_some())
            }
        };
        let cert = both(&self.cert, &self.cert_file, "cert")?;
        let key = both(&self.key, &self.key_file, "key")?;
        let ca = both(&self.client_ca, &self.client_ca_file, "client_ca")?;
        if !cert && !key {
            return Ok(());
        }
        if !cert {
            return Err("tls_server_config: missing cert_file".into());
        }
        if !key {
            return Err("tls_server_config: missing key_file".into());
        }
        match self.client_auth_type {
            ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
                return Err(format!(
                    "tls_server_config.client_auth_type: {:?} accepts certificates nobody checks and is not supported; use RequireAndVerifyClientCert (or VerifyClientCertIfGiven)",
                    self.client_auth_type
                ));
            }
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert if !ca => {
                return Err(format!(
                    "tls_server_config.client_auth_type: {:?} needs client_ca_file",
                    self.client_auth_type
                ));
            }
            ClientAuth::NoClientCert if ca => {
                return Err(
                    "tls_server_config: client_ca_file is set but client_auth_type is NoClientCert: set client_auth_type: RequireAndVerifyClientCert"
                        .into(),
                );
            }
            _ => {}
        }
        if !self.client_allowed_sans.is_empty()
            && self.client_auth_type != ClientAuth::RequireAndVerifyClientCert
        {
            return Err(
                "tls_server_config.client_allowed_sans needs client_auth_type: RequireAndVerifyClientCert"
                    .into(),
            );
        }
        for san in &self.client_allowed_sans {
            if rustls_pki_types::ServerName::try_from(san.as_str()).is_err() {
                return Err(format!(
                    "tls_server_config.client_allowed_sans: {} is not a DNS name or IP address (the only SAN kinds vitals matches)",
                    quote(san)
                ));
            }
        }
        let min = self.min_version.unwrap_or(TlsVersion::TLS12);
        let max = self.max_version.unwrap_or(TlsVersion::TLS13);
        if max < TlsVersion::TLS12 {
            return Err(format!(
                "tls_server_config.max_version: {max:?} is not supported: vitals speaks TLS 1.2 and 1.3 only"
            ));
        }
        if min > max {
            return Err(format!(
                "tls_server_config: min_version {min:?} is above max_version {max:?}"
            ));
        }
        cipher_suites(&self.cipher_suites)?;
        kx_groups(&self.curve_preferences)?;
        Ok(())
    }
}

/// TLS 1.2 suites rustls implements, under Go's names (and Go's older CHACHA20 aliases).
const SUITES: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// TLS 1.3 suites: Go accepts their names and ignores them for configuration; so does vitals.
const TLS13_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// The TLS 1.2 suites a `cipher_suites` list allows; `None` for the default (all of them).
pub fn cipher_suites(names: &[String]) -> Result<Option<Vec<SupportedCipherSuite>>, String> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for name in names {
        if TLS13_SUITES.contains(&name.as_str()) {
            continue;
        }
        let Some((_, suite)) = SUITES.iter().find(|(n, _)| n == name) else {
            let why = if name.starts_with("TLS_") {
                "is not implemented by rustls (no CBC, 3DES, RC4 or RSA key exchange suites)"
            } else {
                "is not a cipher suite name"
            };
            return Err(format!(
                "tls_server_config.cipher_suites: {} {why}; supported: {}",
                quote(name),
                SUITES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !out
            .iter()
            .any(|s: &SupportedCipherSuite| s.suite() == suite.suite())
        {
            out.push(*suite);
        }
    }
    Ok(Some(out))
}

/// The key exchange groups of `curve_preferences`, in order; `None` for the default.
pub fn kx_groups(names: &[String]) -> Result<Option<Vec<&'static dyn SupportedKxGroup>>, String> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|name| match name.as_str() {
            "X25519" => Ok(kx_group::X25519),
            "CurveP256" => Ok(kx_group::SECP256R1),
            "CurveP384" => Ok(kx_group::SECP384R1),
            "CurveP521" | "X25519MLKEM768" => Err(format!(
                "tls_server_config.curve_preferences: {name} is not implemented by vitals' TLS library (rustls with ring); use X25519, CurveP256 or CurveP384"
            )),
            _ => Err(format!(
                "tls_server_config.curve_preferences: {} is not a curve name (X25519, CurveP256, CurveP384)",
                quote(name)
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// PEM given inline in the web config, or a file it names.
#[derive(Debug, Clone)]
enum Pem {
    Inline(String),
    File(PathBuf),
}

impl Pem {
    fn from(inline: &Option<String>, file: &Option<PathBuf>, dir: &Path) -> Option<Pem> {
        match (inline, file) {
            (Some(text), _) => Some(Pem::Inline(text.clone())),
            (None, Some(f)) => Some(Pem::File(dir.join(f))),
            (None, None) => None,
        }
    }

    fn read(&self, what: &str) -> Result<Vec<u8>, String> {
        match self {
            Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
            Pem::File(p) => crate::host::read_file(p, crate::host::Limit::Pem)
                .map_err(|e| format!("reading {what} {}: {e}", p.display())),
        }
    }

    /// What identifies the file's content without reading it: a replaced or rewritten file
    /// (an atomic rename, a Kubernetes secret's symlink swap) changes one of these.
    fn stamp(&self) -> Option<(SystemTime, u64, u64, u64)> {
        match self {
            Pem::Inline(_) => None,
            Pem::File(p) => std::fs::metadata(p).ok().map(|m| {
                (
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    m.len(),
                    m.ino(),
                    m.dev(),
                )
            }),
        }
    }
}

type Stamp = Vec<Option<(SystemTime, u64, u64, u64)>>;

/// Everything but the files' content: fixed for the life of one web config.
struct Source {
    cert: Pem,
    key: Pem,
    client_ca: Option<Pem>,
    client_auth: ClientAuth,
    allowed_sans: Vec<ServerName<'static>>,
    versions: Vec<&'static SupportedProtocolVersion>,
    suites: Option<Vec<SupportedCipherSuite>>,
    kx_groups: Option<Vec<&'static dyn SupportedKxGroup>>,
    prefer_server: bool,
}

struct Loaded {
    config: Arc<ServerConfig>,
    stamp: Stamp,
}

/// The TLS side of one web config: the server configuration in force and where it came from.
pub struct Tls {
    source: Source,
    current: RwLock<Loaded>,
    /// The files' stamp at the last failed rebuild, so a bad file is reported once.
    failed: Mutex<Option<Stamp>>,
}

impl Tls {
    /// Checks the settings and loads the files; relative paths are under `dir`.
    pub fn new(c: &TlsServerConfig, dir: &Path) -> Result<Tls, String> {
        let missing = |what: &str| format!("tls_server_config: missing {what}_file");
        let min = c.min_version.unwrap_or(TlsVersion::TLS12);
        let max = c.max_version.unwrap_or(TlsVersion::TLS13);
        let versions = [
            (TlsVersion::TLS12, &rustls::version::TLS12),
            (TlsVersion::TLS13, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, p)| p)
        .collect();
        let source = Source {
            cert: Pem::from(&c.cert, &c.cert_file, dir).ok_or_else(|| missing("cert"))?,
            key: Pem::from(&c.key, &c.key_file, dir).ok_or_else(|| missing("key"))?,
            client_ca: Pem::from(&c.client_ca, &c.client_ca_file, dir),
            client_auth: c.client_auth_type,
            allowed_sans: c
                .client_allowed_sans
                .iter()
                .filter_map(|s| ServerName::try_from(s.clone()).ok())
                .collect(),
            versions,
            suites: cipher_suites(&c.cipher_suites)?,
            kx_groups: kx_groups(&c.curve_preferences)?,
            prefer_server: c.prefer_server_cipher_suites,
        };
        let stamp = source.stamp();
        let config = source.build()?;
        Ok(Tls {
            source,
            current: RwLock::new(Loaded { config, stamp }),
            failed: Mutex::new(None),
        })
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        tokio_rustls::TlsAcceptor::from(current.config.clone())
    }

    /// Rebuilds the configuration when a file changed since it was loaded. Ok(true) when a new
    /// one is in force; an error (a half-written file, a key that does not match) keeps the
    /// old one and is returned once per change of the files.
    pub fn refresh(&self) -> Result<bool, String> {
        let stamp = self.source.stamp();
        if self.current.read().unwrap_or_else(|e| e.into_inner()).stamp == stamp {
            return Ok(false);
        }
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if failed.as_ref() == Some(&stamp) {
            return Ok(false);
        }
        match self.source.build() {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Loaded { config, stamp };
                *failed = None;
                Ok(true)
            }
            Err(e) => {
                *failed = Some(stamp);
                Err(e)
            }
        }
    }

    /// `client_allowed_sans`: true when the list is empty or the verified client certificate
    /// is valid for one of its names.
    pub fn client_allowed(&self, conn: &rustls::ServerConnection) -> bool {
        if self.source.allowed_sans.is_empty() {
            return true;
        }
        let Some(cert) = conn.peer_certificates().and_then(|c| c.first()) else {
            return false;
        };
        let Ok(cert) = webpki::EndEntityCert::try_from(cert) else {
            return false;
        };
        self.source
            .allowed_sans
            .iter()
            .any(|name| cert.verify_is_valid_for_subject_name(name).is_ok())
    }
}

impl Source {
    fn stamp(&self) -> Stamp {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .map(Pem::stamp)
            .collect()
    }

    fn build(&self) -> Result<Arc<ServerConfig>, String> {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = &self.suites {
            provider.cipher_suites.retain(|s| match s {
                SupportedCipherSuite::Tls13(_) => true,
                SupportedCipherSuite::Tls12(_) => suites.iter().any(|a| a.suite() == s.suite()),
            });
        }
        if let Some(groups) = &self.kx_groups {
            provider.kx_groups = groups.clone();
        }
        let provider = Arc::new(provider);

        let certs = CertificateDer::pem_slice_iter(&self.cert.read("cert_file")?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("tls_server_config.cert_file: {e}"))?;
        if certs.is_empty() {
            return Err("tls_server_config.cert_file: no PEM certificate in it".into());
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key.read("key_file")?)
            .map_err(|e| format!("tls_server_config.key_file: no PEM private key in it ({e})"))?;
        let verifier: Arc<dyn ClientCertVerifier> = match (&self.client_ca, self.client_auth) {
            (
                Some(ca),
                ClientAuth::RequireAndVerifyClientCert | ClientAuth::VerifyClientCertIfGiven,
            ) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(&ca.read("client_ca_file")?) {
                    let c = c.map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
                    roots
                        .add(c)
                        .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
                }
                if roots.is_empty() {
                    return Err("tls_server_config.client_ca_file: no PEM certificate in it".into());
                }
                let builder =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let builder = if self.client_auth == ClientAuth::VerifyClientCertIfGiven {
                    builder.allow_unauthenticated()
                } else {
                    builder
                };
                builder
                    .build()
                    .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?
            }
            _ => WebPkiClientVerifier::no_client_auth(),
        };
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&self.versions)
            .map_err(|e| format!("tls_server_config: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| format!("tls_server_config: certificate and key: {e}"))?;
        config.ignore_client_order = self.prefer_server;
        // HTTP/1.1 only: the header, idle and size limits are HTTP/1's.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn config(cert_file: &Path, key_file: &Path) -> TlsServerConfig {
        TlsServerConfig {
            cert_file: Some(cert_file.to_path_buf()),
            key_file: Some(key_file.to_path_buf()),
            ..TlsServerConfig::default()
        }
    }

    #[test]
    fn a_changed_file_is_loaded_and_a_broken_one_reported_once() {
        let dir = std::env::temp_dir().join(format!("vitals-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = cert("localhost");
        std::fs::write(dir.join("c.pem"), &c).unwrap();
        std::fs::write(dir.join("k.pem"), &k).unwrap();
        let tls = Tls::new(&config(Path::new("c.pem"), Path::new("k.pem")), &dir).unwrap();
        assert_eq!(tls.refresh(), Ok(false));

        // A key that belongs to another certificate: rejected, reported once, old one kept.
        let (_, other_key) = cert("localhost");
        std::fs::write(dir.join("k.pem"), format!("{other_key}\n")).unwrap();
        let err = tls.refresh().unwrap_err();
        assert!(err.contains("certificate and key"), "{err}");
        assert_eq!(tls.refresh(), Ok(false));

        let (c2, k2) = cert("localhost");
        std::fs::write(dir.join("c.pem"), &c2).unwrap();
        std::fs::write(dir.join("k.pem"), &k2).unwrap();
        assert_eq!(tls.refresh(), Ok(true));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("vitals-tls-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pem"), "not a certificate").unwrap();
        std::fs::write(dir.join("k.pem"), "not a key").unwrap();
        let err = Tls::new(&config(Path::new("c.pem"), Path::new("k.pem")), &dir)
            .err()
            .unwrap();
        assert!(err.contains("cert_file"), "{err}");
        let err = Tls::new(&config(Path::new("none.pem"), Path::new("k.pem")), &dir)
            .err()
            .unwrap();
        assert!(err.contains("none.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn go_names_map_to_rustls() {
        let suites = cipher_suites(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into(),
            "TLS_AES_128_GCM_SHA256".into(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(suites.len(), 1);
        assert!(
            kx_groups(&["X25519".into(), "CurveP384".into()])
                .unwrap()
                .unwrap()
                .len()
                == 2
        );
        assert!(kx_groups(&["CurveP521".into()]).is_err());
    }
}
