//! `[otlp]` of the config and the OpenTelemetry environment variables. Every key of the file
//! is optional: a key the file sets wins; else the standard variable
//! (`OTEL_EXPORTER_OTLP_METRICS_*` before `OTEL_EXPORTER_OTLP_*`); else the default. So the
//! shipped config leaves these keys commented out, and a container can be configured by
//! environment alone.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::collectors::Invalid;
use crate::interval::Interval;
use crate::shorten::quote;

/// `[otlp]` as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpFile {
    pub enabled: Option<bool>,
    pub endpoint: Option<String>,
    pub protocol: Option<Protocol>,
    pub interval: Option<Interval>,
    pub timeout: Option<Interval>,
    pub compression: Option<Compression>,
    pub temporality: Option<Temporality>,
    pub headers: Option<BTreeMap<String, String>>,
    pub tls: TlsFile,
    /// Extra resource attributes, merged over the detected ones.
    pub resource: BTreeMap<String, String>,
    pub queue: QueueFile,
}

/// `[otlp.queue]`: the bounds of the queue of requests not yet taken, and its directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct QueueFile {
    /// Bytes the queued requests may take (compressed, framed), in memory and on disk.
    pub max_bytes: Option<u64>,
    /// Longest a request may wait; older ones are dropped.
    pub max_age: Option<Interval>,
    /// Where the queue is kept across restarts; memory only when unset.
    pub dir: Option<PathBuf>,
    /// Requests a second sent from the backlog once the receiver answers again.
    pub drain_rate: Option<u32>,
}

/// `[otlp.queue]` in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub max_bytes: u64,
    pub max_age: Duration,
    pub dir: Option<PathBuf>,
    pub drain_rate: u32,
}

impl QueueSettings {
    /// 8 MiB: at the default config a request measured 15 to 23 KB gzipped on a small host
    /// (the process groups make most of the difference), so the default hour at 15 s (240
    /// requests, 3.6 to 5.5 MB) fits, with room for larger ones.
    pub const DEFAULT_MAX_BYTES: u64 = 8 << 20;
    pub const MIN_MAX_BYTES: u64 = 4 << 10;
    pub const MAX_MAX_BYTES: u64 = 1 << 30;
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
    pub const DEFAULT_DRAIN_RATE: u32 = 10;
    pub const MAX_DRAIN_RATE: u32 = 1000;
}

impl Default for QueueSettings {
    fn default() -> QueueSettings {
        QueueSettings {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_age: Self::DEFAULT_MAX_AGE,
            dir: None,
            drain_rate: Self::DEFAULT_DRAIN_RATE,
        }
    }
}

fn queue_settings(file: &QueueFile, interval: Duration) -> Result<QueueSettings, Invalid> {
    let d = QueueSettings::default();
    let max_bytes = file.max_bytes.unwrap_or(d.max_bytes);
    if !(QueueSettings::MIN_MAX_BYTES..=QueueSettings::MAX_MAX_BYTES).contains(&max_bytes) {
        return Err(invalid(
            "queue.max_bytes",
            format!(
                "{max_bytes}: out of range, it must be between {} and {} bytes",
                QueueSettings::MIN_MAX_BYTES,
                QueueSettings::MAX_MAX_BYTES
            ),
        ));
    }
    let max_age = file.max_age.map_or(d.max_age, |a| a.0);
    if max_age < interval {
        return Err(invalid(
            "queue.max_age",
            format!(
                "{} is shorter than the interval {}: no request could wait for the next push",
                Interval(max_age),
                Interval(interval)
            ),
        ));
    }
    let drain_rate = file.drain_rate.unwrap_or(d.drain_rate);
    if !(1..=QueueSettings::MAX_DRAIN_RATE).contains(&drain_rate) {
        return Err(invalid(
            "queue.drain_rate",
            format!(
                "{drain_rate}: out of range, it must be between 1 and {} requests a second",
                QueueSettings::MAX_DRAIN_RATE
            ),
        ));
    }
    if file.dir.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        return Err(invalid("queue.dir", "an empty path".into()));
    }
    Ok(QueueSettings {
        max_bytes,
        max_age,
        dir: file.dir.clone(),
        drain_rate,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsFile {
    /// A CA certificate (PEM) trusted besides the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mTLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    #[serde(rename = "grpc")]
    Grpc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Gzip,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Temporality {
    Cumulative,
    /// Counters as the increase since the previous push; up-down counters and gauges stay
    /// as they are, as the specification's delta preference says.
    Delta,
}

/// The settings in force, after the file, the environment and the defaults.
#[derive(Clone, PartialEq, Eq)]
pub struct Otlp {
    pub enabled: bool,
    /// Where requests go: the full URL of `/v1/metrics` for http/protobuf, the server's
    /// `http(s)://host:port` for gRPC.
    pub endpoint: String,
    pub protocol: Protocol,
    pub interval: Duration,
    pub timeout: Duration,
    pub compression: Compression,
    pub temporality: Temporality,
    pub headers: Vec<(String, String)>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Resource attributes given by the user (file over `OTEL_RESOURCE_ATTRIBUTES`, and
    /// `OTEL_SERVICE_NAME` as `service.name`), merged over the detected ones.
    pub resource: Vec<(String, String)>,
    pub queue: QueueSettings,
}

/// Header values are secrets (tokens): never shown.
impl fmt::Debug for Otlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Otlp {
    /// One line per setting, header values redacted, for `check-config` and logs.
    pub fn describe(&self) -> String {
        if !self.enabled {
            return "otlp: disabled".into();
        }
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, _)| format!("{k}=<redacted>"))
            .collect();
        let resource: Vec<String> = self
            .resource
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "otlp: enabled\n  endpoint = {}\n  protocol = {}\n  interval = {}\n  timeout = {}\n  compression = {}\n  temporality = {}\n  headers = [{}]\n  ca_file = {}\n  cert_file = {}\n  key_file = {}\n  resource = [{}]\n  queue.max_bytes = {}\n  queue.max_age = {}\n  queue.dir = {}\n  queue.drain_rate = {}",
            self.endpoint,
            match self.protocol {
                Protocol::HttpProtobuf => "http/protobuf",
                Protocol::Grpc => "grpc",
            },
            Interval(self.interval),
            Interval(self.timeout),
            match self.compression {
                Compression::Gzip => "gzip",
                Compression::None => "none",
            },
            match self.temporality {
                Temporality::Cumulative => "cumulative",
                Temporality::Delta => "delta",
            },
            headers.join(", "),
            show_path(&self.ca_file),
            show_path(&self.cert_file),
            show_path(&self.key_file),
            resource.join(", "),
            self.queue.max_bytes,
            Interval(self.queue.max_age),
            show_path(&self.queue.dir),
            self.queue.drain_rate,
        )
    }
}

fn show_path(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map_or_else(|| "-".into(), |p| p.display().to_string())
}

const DEFAULT_HTTP: &str = "http://localhost:4318";
const DEFAULT_GRPC: &str = "http://localhost:4317";

/// Why a build without the `otlp` cargo feature refuses an enabled push.
pub const NOT_BUILT: &str = "this vitals was built without the `otlp` feature \
(cargo build --no-default-features) and cannot push: set enabled = false or remove [otlp] \
(and OTEL_METRICS_EXPORTER), or run a build with the default features";

fn invalid(key: &'static str, message: String) -> Invalid {
    Invalid { key, message }
}

/// The first of the metrics-specific and the generic variable that is set and not empty.
fn var(env: &dyn Fn(&str) -> Option<String>, generic: &str) -> Option<(String, String)> {
    let specific = generic.replacen("OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_METRICS_", 1);
    [specific, generic.to_string()]
        .into_iter()
        .find_map(|name| {
            env(&name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (name, v))
        })
}

/// A duration variable in milliseconds, as the specification writes them.
fn millis(
    name: &str,
    value: &str,
    key: &'static str,
) -> Result<Duration, crate::collectors::Invalid> {
    let ms: u64 = value.trim().parse().map_err(|_| {
        invalid(
            key,
            format!("{name} = {}: expected milliseconds", quote(value)),
        )
    })?;
    let d = Duration::from_millis(ms);
    if d < Interval::MIN || d > Interval::MAX {
        return Err(invalid(
            key,
            format!(
                "{name} = {ms}: out of range, it must be between {} and {} milliseconds",
                Interval::MIN.as_millis(),
                Interval::MAX.as_millis()
            ),
        ));
    }
    Ok(d)
}

/// `k1=v1,k2=v2` with percent-encoded values (W3C baggage style), as the specification
/// writes headers and resource attributes.
fn key_values(name: &str, value: &str) -> Result<Vec<(String, String)>, String> {
    value
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("{name}: {} is not key=value", quote(pair.trim())))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(format!("{name}: an empty key in {}", quote(pair.trim())));
            }
            Ok((k.to_string(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(n) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(n);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The settings in force for `file`, reading variables through `env`.
pub fn resolve(file: &OtlpFile, env: &dyn Fn(&str) -> Option<String>) -> Result<Otlp, Invalid> {
    let enabled = match file.enabled {
        Some(e) => e,
        None => {
            env("OTEL_METRICS_EXPORTER").is_some_and(|v| v.split(',').any(|e| e.trim() == "otlp"))
        }
    };
    if enabled && !cfg!(feature = "otlp") {
        return Err(invalid("enabled", NOT_BUILT.to_string()));
    }
    let protocol = match file.protocol {
        Some(p) => p,
        None => match var(env, "OTEL_EXPORTER_OTLP_PROTOCOL") {
            None => Protocol::HttpProtobuf,
            Some((_, v)) if v.trim() == "http/protobuf" => Protocol::HttpProtobuf,
            Some((_, v)) if v.trim() == "grpc" => Protocol::Grpc,
            Some((name, v)) => {
                return Err(invalid(
                    "protocol",
                    format!(
                        "{name} = {}: vitals speaks \"http/protobuf\" and \"grpc\"",
                        quote(&v)
                    ),
                ));
            }
        },
    };
    let endpoint = match (&file.endpoint, protocol) {
        (Some(e), Protocol::HttpProtobuf) => signal_path(e),
        (Some(e), Protocol::Grpc) => grpc_uri(e),
        (None, _) => {
            let specific = env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").filter(|v| !v.is_empty());
            let generic = env("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|v| !v.is_empty());
            match (specific, generic, protocol) {
                // The signal's own variable is the whole URL.
                (Some(e), _, Protocol::HttpProtobuf) => e.trim().to_string(),
                (Some(e), _, Protocol::Grpc) => grpc_uri(&e),
                (None, Some(e), Protocol::HttpProtobuf) => signal_path(&e),
                (None, Some(e), Protocol::Grpc) => grpc_uri(&e),
                (None, None, Protocol::HttpProtobuf) => signal_path(DEFAULT_HTTP),
                (None, None, Protocol::Grpc) => DEFAULT_GRPC.to_string(),
            }
        }
    };
    check_url(&endpoint)?;
    let interval = match file.interval {
        Some(i) => i.0,
        None => match env("OTEL_METRIC_EXPORT_INTERVAL").filter(|v| !v.is_empty()) {
            Some(v) => millis("OTEL_METRIC_EXPORT_INTERVAL", &v, "interval")?,
            None => Duration::from_secs(15),
        },
    };
    let timeout = match file.timeout {
        Some(t) => t.0,
        None => match var(env, "OTEL_EXPORTER_OTLP_TIMEOUT") {
            Some((name, v)) => millis(&name, &v, "timeout")?,
            None => Duration::from_secs(10),
        },
    };
    if timeout > interval {
        return Err(invalid(
            "timeout",
            format!(
                "timeout {} is longer than the interval {}: at most one batch is in flight",
                Interval(timeout),
                Interval(interval)
            ),
        ));
    }
    let compression = match file.compression {
        Some(c) => c,
        None => match var(env, "OTEL_EXPORTER_OTLP_COMPRESSION") {
            None => Compression::Gzip,
            Some((_, v)) if v.trim() == "gzip" => Compression::Gzip,
            Some((_, v)) if v.trim() == "none" => Compression::None,
            Some((name, v)) => {
                return Err(invalid(
                    "compression",
                    format!("{name} = {}: expected gzip or none", quote(&v)),
                ));
            }
        },
    };
    let temporality = match file.temporality {
        Some(t) => t,
        None => match env("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")
            .map(|v| v.trim().to_ascii_lowercase())
        {
            None => Temporality::Cumulative,
            Some(v) if v.is_empty() || v == "cumulative" || v == "lowmemory" => {
                // lowmemory keeps observed counters cumulative, and every vitals counter
                // is observed.
                Temporality::Cumulative
            }
            Some(v) if v == "delta" => Temporality::Delta,
            Some(v) => {
                return Err(invalid(
                    "temporality",
                    format!(
                        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE = {}: expected cumulative, delta or lowmemory",
                        quote(&v)
                    ),
                ));
            }
        },
    };
    let headers: Vec<(String, String)> = match &file.headers {
        Some(h) => h.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        None => {
            let mut merged: BTreeMap<String, String> = BTreeMap::new();
            for name in [
                "OTEL_EXPORTER_OTLP_HEADERS",
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            ] {
                if let Some(v) = env(name) {
                    for (k, v) in key_values(name, &v).map_err(|m| invalid("headers", m))? {
                        merged.insert(k.to_ascii_lowercase(), v);
                    }
                }
            }
            merged.into_iter().collect()
        }
    };
    for (k, v) in &headers {
        let ok = hyper::header::HeaderName::from_bytes(k.as_bytes()).is_ok()
            && !k.is_empty()
            && hyper::header::HeaderValue::from_str(v).is_ok();
        if !ok {
            return Err(invalid(
                "headers",
                format!("{} is not a valid HTTP header (name or value)", quote(k)),
            ));
        }
    }
    let path_var = |file: &Option<PathBuf>, generic: &str| {
        file.clone()
            .or_else(|| var(env, generic).map(|(_, v)| PathBuf::from(v.trim())))
    };
    let ca_file = path_var(&file.tls.ca_file, "OTEL_EXPORTER_OTLP_CERTIFICATE");
    let cert_file = path_var(&file.tls.cert_file, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
    let key_file = path_var(&file.tls.key_file, "OTEL_EXPORTER_OTLP_CLIENT_KEY");
    if cert_file.is_some() != key_file.is_some() {
        return Err(invalid(
            "tls.cert_file",
            "a client certificate needs both tls.cert_file and tls.key_file".into(),
        ));
    }
    let mut resource: BTreeMap<String, String> = BTreeMap::new();
    if let Some(v) = env("OTEL_RESOURCE_ATTRIBUTES") {
        for (k, v) in
            key_values("OTEL_RESOURCE_ATTRIBUTES", &v).map_err(|m| invalid("resource", m))?
        {
            resource.insert(k, v);
        }
    }
    if let Some(name) = env("OTEL_SERVICE_NAME").filter(|v| !v.trim().is_empty()) {
        resource.insert("service.name".into(), name.trim().to_string());
    }
    for (k, v) in &file.resource {
        resource.insert(k.clone(), v.clone());
    }
    let queue = queue_settings(&file.queue, interval)?;
    Ok(Otlp {
        enabled,
        endpoint,
        protocol,
        interval,
        timeout,
        compression,
        temporality,
        headers,
        ca_file,
        cert_file,
        key_file,
        resource: resource.into_iter().collect(),
        queue,
    })
}

/// The metrics path appended to a base endpoint, as the specification does for
/// `OTEL_EXPORTER_OTLP_ENDPOINT` and as the config's `endpoint` means.
fn signal_path(base: &str) -> String {
    format!("{}/v1/metrics", base.trim().trim_end_matches('/'))
}

/// A gRPC endpoint may be written `host:port`; tonic needs a scheme.
fn grpc_uri(e: &str) -> String {
    let e = e.trim().trim_end_matches('/');
    if e.starts_with("http://") || e.starts_with("https://") {
        e.to_string()
    } else {
        format!("http://{e}")
    }
}

fn check_url(endpoint: &str) -> Result<(), Invalid> {
    match endpoint.parse::<hyper::Uri>() {
        Ok(u)
            if matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        Ok(_) => Err(invalid(
            "endpoint",
            format!("{}: expected an http:// or https:// URL", quote(endpoint)),
        )),
        Err(e) => Err(invalid("endpoint", format!("{}: {e}", quote(endpoint)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn file(text: &str) -> OtlpFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults() {
        let o = resolve(&OtlpFile::default(), &env_of(&[])).unwrap();
        assert!(!o.enabled);
        assert_eq!(o.endpoint, "http://localhost:4318/v1/metrics");
        assert_eq!(o.protocol, Protocol::HttpProtobuf);
        assert_eq!(o.interval, Duration::from_secs(15));
        assert_eq!(o.timeout, Duration::from_secs(10));
        assert_eq!(o.compression, Compression::Gzip);
        assert_eq!(o.temporality, Temporality::Cumulative);
    }

    #[test]
    #[cfg_attr(not(feature = "otlp"), ignore = "resolves an enabled push")]
    fn the_environment_fills_what_the_file_leaves_out() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20abc,x-tenant=a",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-tenant=b"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "5000"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,service.name=x",
            ),
            ("OTEL_SERVICE_NAME", "node-agent"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
        ]);
        let o = resolve(&OtlpFile::default(), &env).unwrap();
        assert!(o.enabled);
        assert_eq!(o.endpoint, "https://collector:4318/v1/metrics");
        assert_eq!(
            o.headers,
            [
                ("authorization".to_string(), "Bearer abc".to_string()),
                ("x-tenant".to_string(), "b".to_string())
            ]
        );
        assert_eq!(o.timeout, Duration::from_secs(2));
        assert_eq!(o.interval, Duration::from_secs(5));
        assert_eq!(o.compression, Compression::None);
        assert_eq!(o.temporality, Temporality::Delta);
        assert!(
            o.resource
                .contains(&("service.name".into(), "node-agent".into()))
        );
        assert!(
            o.resource
                .contains(&("deployment.environment".into(), "prod".into()))
        );
        // The file wins over every variable.
        let f = file(
            "enabled = false\nendpoint = \"http://other:4318\"\ncompression = \"gzip\"\nheaders = { a = \"1\" }\n[resource]\n\"service.name\" = \"mine\"\n",
        );
        let o = resolve(&f, &env).unwrap();
        assert!(!o.enabled);
        assert_eq!(o.endpoint, "http://other:4318/v1/metrics");
        assert_eq!(o.compression, Compression::Gzip);
        assert_eq!(o.headers, [("a".to_string(), "1".to_string())]);
        assert!(o.resource.contains(&("service.name".into(), "mine".into())));
        // The metrics endpoint variable is used whole.
        let env = env_of(&[
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://c:9000/custom",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
        ]);
        assert_eq!(
            resolve(&OtlpFile::default(), &env).unwrap().endpoint,
            "http://c:9000/custom"
        );
    }

    #[test]
    fn an_enabled_push_needs_the_otlp_feature() {
        let r = resolve(&file("enabled = true"), &env_of(&[]));
        if cfg!(feature = "otlp") {
            assert!(r.is_ok(), "{r:?}");
        } else {
            let e = r.unwrap_err();
            assert_eq!((e.key, e.message.as_str()), ("enabled", NOT_BUILT));
        }
        assert!(resolve(&file("enabled = false"), &env_of(&[])).is_ok());
    }

    #[test]
    fn grpc_endpoints() {
        let o = resolve(&file("protocol = \"grpc\"\n"), &env_of(&[])).unwrap();
        assert_eq!(o.endpoint, "http://localhost:4317");
        let o = resolve(
            &file("protocol = \"grpc\"\nendpoint = \"collector:4317\"\n"),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(o.endpoint, "http://collector:4317");
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4317"),
        ]);
        let o = resolve(&OtlpFile::default(), &env).unwrap();
        assert_eq!(
            (o.protocol, o.endpoint.as_str()),
            (Protocol::Grpc, "https://c:4317")
        );
    }

    #[test]
    fn bad_values_name_the_key_or_variable() {
        type Env = &'static [(&'static str, &'static str)];
        let cases: [(&str, Env, &str); 6] = [
            (
                "",
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
                "http/json",
            ),
            ("", &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")], "milliseconds"),
            ("", &[("OTEL_METRIC_EXPORT_INTERVAL", "1")], "out of range"),
            (
                "",
                &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
                "key=value",
            ),
            ("endpoint = \"ftp://x\"\n", &[], "http:// or https://"),
            (
                "interval = \"1s\"\ntimeout = \"5s\"\n",
                &[],
                "longer than the interval",
            ),
        ];
        for (text, env, want) in cases {
            let err = resolve(&file(text), &env_of(env)).unwrap_err();
            assert!(err.message.contains(want), "{text:?} {env:?}: {err:?}");
        }
    }

    #[test]
    fn the_queue_table() {
        let o = resolve(&OtlpFile::default(), &env_of(&[])).unwrap();
        assert_eq!(o.queue, QueueSettings::default());
        let o = resolve(
            &file("[queue]\nmax_bytes = 65536\nmax_age = \"10m\"\ndir = \"/var/lib/vitals/otlp\"\ndrain_rate = 5\n"),
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(
            o.queue,
            QueueSettings {
                max_bytes: 65536,
                max_age: Duration::from_secs(600),
                dir: Some("/var/lib/vitals/otlp".into()),
                drain_rate: 5,
            }
        );
        for (text, key) in [
            ("[queue]\nmax_bytes = 10\n", "queue.max_bytes"),
            ("[queue]\nmax_age = \"1s\"\n", "queue.max_age"),
            ("[queue]\ndrain_rate = 0\n", "queue.drain_rate"),
            ("[queue]\ndir = \"\"\n", "queue.dir"),
        ] {
            let err = resolve(&file(text), &env_of(&[])).unwrap_err();
            assert_eq!(err.key, key, "{text:?}: {err:?}");
        }
        assert!(toml::from_str::<OtlpFile>("[queue]\nmax_size = 1\n").is_err());
    }

    #[test]
    #[cfg_attr(not(feature = "otlp"), ignore = "resolves an enabled push")]
    fn headers_are_never_shown() {
        let o = resolve(
            &file("enabled = true\nheaders = { authorization = \"Bearer secret\" }\n"),
            &env_of(&[]),
        )
        .unwrap();
        assert!(!format!("{o:?}").contains("secret"));
        assert!(o.describe().contains("authorization=<redacted>"));
    }
}
