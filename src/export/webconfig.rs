//! The web configuration file of the Prometheus exporter toolkit (`--web.config.file`), the
//! YAML file node_exporter and the other official exporters read: `tls_server_config` (TLS
//! and client certificates), `http_server_config` (response headers), `basic_auth_users`
//! (user: bcrypt hash) and `rate_limit`. An operator reuses the file they have. As in the
//! TOML config, an unknown key is an error; so is a value vitals cannot honour (a cipher suite
//! or curve rustls does not implement, TLS 1.0), rather than being silently weakened.
//!
//! [`WebConfigFile::parse`] is pure (fuzzed); [`Web::load`] then reads the certificates and
//! builds what the server uses. Relative paths are taken from the file's directory, as the
//! toolkit does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::auth::BasicAuth;
use super::tls::{Tls, TlsServerConfig};
use crate::interval::Interval;
use crate::shorten::quote;

/// The file as written.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfigFile {
    pub tls_server_config: Option<TlsServerConfig>,
    pub http_server_config: HttpServerConfig,
    pub basic_auth_users: BTreeMap<String, String>,
    pub rate_limit: Option<RateLimitConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpServerConfig {
    /// vitals serves HTTP/1.1 only; `true` (the toolkit's default) is accepted and means that.
    pub http2: bool,
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Time between two requests ("0" disables the limiter).
    pub interval: Option<String>,
    /// Requests allowed in a burst.
    pub burst: u32,
}

/// The response headers the toolkit lets a file set, and the values it accepts where it
/// restricts them.
const HEADERS: &[(&str, Option<&[&str]>)] = &[
    ("Content-Security-Policy", None),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-XSS-Protection", None),
    ("Strict-Transport-Security", None),
];

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("reading web config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("web config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl WebConfigFile {
    /// Parses and checks the YAML text, reading no file. The error names the key (and, for
    /// syntax and unknown keys, the line and column).
    pub fn parse(text: &str) -> Result<WebConfigFile, String> {
        // An empty file (or one of comments) is the empty config, as in the toolkit.
        let file: WebConfigFile = if text.trim().is_empty()
            || text.lines().all(|l| {
                let t = l.trim_start();
                t.is_empty() || t.starts_with('#')
            }) {
            WebConfigFile::default()
        } else {
            serde_norway::from_str::<Option<WebConfigFile>>(text)
                .map_err(|e| crate::shorten::shorten(&e.to_string(), 400).into_owned())?
                .unwrap_or_default()
        };
        file.validate()?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(tls) = &self.tls_server_config {
            tls.validate()?;
        }
        for (name, value) in &self.http_server_config.headers {
            let Some((_, allowed)) = HEADERS
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(name))
            else {
                return Err(format!(
                    "http_server_config.headers: {} can not be configured (allowed: {})",
                    quote(name),
                    HEADERS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            if let Some(allowed) = allowed
                && !value.is_empty()
                && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value))
            {
                return Err(format!(
                    "http_server_config.headers.{name}: {} is not one of {}",
                    quote(value),
                    allowed.join(", ")
                ));
            }
            if HeaderValue::from_str(value).is_err() {
                return Err(format!(
                    "http_server_config.headers.{name}: {} is not a valid header value",
                    quote(value)
                ));
            }
        }
        for (user, hash) in &self.basic_auth_users {
            if user.is_empty() || user.contains(':') {
                return Err(format!(
                    "basic_auth_users: the user name {} may not be empty or contain ':'",
                    quote(user)
                ));
            }
            super::auth::check_hash(hash).map_err(|e| {
                format!("basic_auth_users.{user}: {e} (make one with `vitals hash-password`)")
            })?;
        }
        if let Some(r) = &self.rate_limit {
            r.interval()?;
        }
        Ok(())
    }
}

impl RateLimitConfig {
    /// The time between two requests; `None` when the limiter is off.
    fn interval(&self) -> Result<Option<Duration>, String> {
        match self.interval.as_deref().map(str::trim) {
            None | Some("0") | Some("0s") | Some("") => Ok(None),
            Some(text) => text
                .parse::<Interval>()
                .map(|i| Some(i.0))
                .map_err(|e| format!("rate_limit.interval: {e}")),
        }
    }
}

/// What the server does with a web config: built once per load, replaced whole on a reload.
#[derive(Default)]
pub struct Web {
    pub tls: Option<Arc<Tls>>,
    pub auth: Option<Arc<BasicAuth>>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub rate_limit: Option<RateLimit>,
    /// `/healthz` and `/readyz` answer without credentials (`server.auth_exempt_probes`).
    pub exempt_probes: bool,
}

impl Web {
    /// Reads the web config file (none: plain HTTP, no auth) and the files it names.
    pub fn load(path: Option<&Path>, exempt_probes: bool) -> Result<Web, WebConfigError> {
        let Some(path) = path else {
            return Ok(Web {
                exempt_probes,
                ..Web::default()
            });
        };
        let invalid = |message: String| WebConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let text =
            crate::host::read_file_text(path, crate::host::Limit::Config).map_err(|source| {
                WebConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        let file = WebConfigFile::parse(&text).map_err(invalid)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let tls = match &file.tls_server_config {
            Some(t) if t.enabled() => Some(Arc::new(Tls::new(t, dir).map_err(invalid)?)),
            _ => None,
        };
        let auth = if file.basic_auth_users.is_empty() {
            None
        } else {
            Some(Arc::new(
                BasicAuth::new(&file.basic_auth_users).map_err(invalid)?,
            ))
        };
        let headers = file
            .http_server_config
            .headers
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        let rate_limit = match &file.rate_limit {
            Some(r) => r
                .interval()
                .map_err(invalid)?
                .map(|every| RateLimit::new(every, r.burst)),
            None => None,
        };
        Ok(Web {
            tls,
            auth,
            headers,
            rate_limit,
            exempt_probes,
        })
    }
}

/// The web config in force, shared by the acceptor and the request middleware.
#[derive(Default)]
pub struct WebState(RwLock<Arc<Web>>);

impl WebState {
    pub fn current(&self) -> Arc<Web> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, web: Web) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(web);
    }
}

/// The toolkit's token bucket: `burst` requests at once, then one per `every`; beyond, 429.
pub struct RateLimit {
    every: Duration,
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimit {
    fn new(every: Duration, burst: u32) -> RateLimit {
        let burst = f64::from(burst.max(1));
        RateLimit {
            every,
            burst,
            bucket: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token; false when none is left.
    pub fn allow(&self) -> bool {
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(b.1).as_secs_f64() / self.every.as_secs_f64();
        b.0 = (b.0 + refill).min(self.burst);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tls::{ClientAuth, TlsVersion};

    #[test]
    fn empty_and_comment_only_files_are_the_empty_config() {
        for text in ["", "\n", "# nothing\n", "---\n"] {
            assert_eq!(
                WebConfigFile::parse(text).unwrap(),
                WebConfigFile::default(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_toolkit_example_parses() {
        let text = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS12\n  max_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]\n  prefer_server_cipher_suites: true\n  curve_preferences: [X25519, CurveP256]\nhttp_server_config:\n  http2: true\n  headers:\n    Strict-Transport-Security: max-age=31536000\n    X-Frame-Options: deny\nbasic_auth_users:\n  alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\nrate_limit:\n  interval: 1s\n  burst: 20\n";
        let f = WebConfigFile::parse(text).unwrap();
        let tls = f.tls_server_config.unwrap();
        assert_eq!(tls.client_auth_type, ClientAuth::RequireAndVerifyClientCert);
        assert_eq!(tls.min_version, Some(TlsVersion::TLS12));
        assert_eq!(f.basic_auth_users.len(), 1);
    }

    #[test]
    fn mistakes_name_their_key() {
        for (text, want) in [
            ("tls_server_config:\n  cert_fille: a\n", "cert_fille"),
            ("tls_server_config:\n  cert_fille: a\n", "line 2"),
            ("basic_auth:\n  a: b\n", "basic_auth"),
            ("tls_server_config:\n  cert_file: a\n", "missing key_file"),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
                "needs client_ca_file",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n",
                "client_auth_type",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  max_version: TLS11\n",
                "TLS 1.2 and 1.3 only",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n",
                "above max_version",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
                "TLS_RSA_WITH_AES_128_CBC_SHA",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [CurveP521]\n",
                "CurveP521",
            ),
            ("http_server_config:\n  headers:\n    X-Evil: 1\n", "X-Evil"),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                "not one of",
            ),
            (
                "basic_auth_users:\n  alice: plaintext\n",
                "basic_auth_users.alice",
            ),
            ("rate_limit:\n  interval: soon\n", "rate_limit.interval"),
        ] {
            let err = WebConfigFile::parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?} -> {err}");
        }
    }

    #[test]
    fn the_fixture_files_parse() {
        let every =
            WebConfigFile::parse(include_str!("../../tests/fixtures/web/every-key.yml")).unwrap();
        assert_eq!(every.basic_auth_users.len(), 2);
        assert_eq!(every.http_server_config.headers.len(), 4);
        let inline =
            WebConfigFile::parse(include_str!("../../tests/fixtures/web/inline-pem.yml")).unwrap();
        assert!(inline.tls_server_config.unwrap().enabled());
        WebConfigFile::parse(include_str!("../../tests/fixtures/web/auth-only.yml")).unwrap();
    }

    #[test]
    fn tls_without_certificate_or_key_is_plain_http() {
        let f = WebConfigFile::parse("tls_server_config:\n  min_version: TLS13\n").unwrap();
        assert!(!f.tls_server_config.unwrap().enabled());
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refills() {
        let r = RateLimit::new(Duration::from_millis(50), 2);
        assert!(r.allow() && r.allow());
        assert!(!r.allow());
        std::thread::sleep(Duration::from_millis(60));
        assert!(r.allow());
    }
}
