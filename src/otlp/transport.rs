//! Sending one request: OTLP/HTTP (protobuf body, reqwest over rustls) or OTLP/gRPC (tonic),
//! and what the receiver's answer means for a retry. TLS is rustls with the webpki roots plus
//! an optional CA file, and a client certificate for mTLS.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::settings::{Compression, Otlp, Protocol};

/// Why an export did not get through; the `reason` label of the failure counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// No connection: refused, reset, DNS, TLS handshake.
    Connect,
    /// Sent, but no answer within the time left.
    Timeout,
    /// The receiver is overloaded or down behind a proxy (429, 502, 503, 504, gRPC
    /// UNAVAILABLE and friends): retried until the export's timeout.
    Unavailable,
    /// The receiver refused the data (any other 4xx/5xx, gRPC INVALID_ARGUMENT...): dropped.
    Rejected,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::Connect,
        Reason::Timeout,
        Reason::Unavailable,
        Reason::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Connect => "connect",
            Reason::Timeout => "timeout",
            Reason::Unavailable => "unavailable",
            Reason::Rejected => "rejected",
        }
    }

    pub fn retryable(self) -> bool {
        self != Reason::Rejected
    }
}

#[derive(Debug)]
pub struct Failure {
    pub reason: Reason,
    /// The receiver's `Retry-After`, when it gave one.
    pub retry_after: Option<Duration>,
    pub message: String,
}

/// A request the receiver took, with what it said it rejected (partial success).
#[derive(Debug, Default)]
pub struct Accepted {
    pub rejected_points: i64,
    pub message: String,
}

pub enum Transport {
    Http {
        client: reqwest::Client,
        url: String,
        gzip: bool,
    },
    Grpc {
        client: MetricsServiceClient<tonic::transport::Channel>,
        headers: Vec<(tonic::metadata::MetadataKey<tonic::metadata::Ascii>, String)>,
    },
}

/// A PEM file, through the capped read every file goes through.
fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    crate::host::read_file(path, crate::host::Limit::Pem)
        .map_err(|e| format!("reading {}: {e}", path.display()))
}

/// rustls settings for an https endpoint.
fn tls_config(s: &Otlp) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = &s.ca_file {
        let pem = read(ca)?;
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{}: no PEM certificate in it", ca.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match (&s.cert_file, &s.key_file) {
        (Some(cert), Some(key)) => {
            let pem = read(cert)?;
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            let key_pem = read(key)?;
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("client certificate: {e}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

impl Transport {
    pub fn new(s: &Otlp) -> Result<Transport, String> {
        match s.protocol {
            Protocol::HttpProtobuf => {
                let mut headers = reqwest::header::HeaderMap::new();
                for (k, v) in &s.headers {
                    let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                        .map_err(|e| format!("header {k}: {e}"))?;
                    let mut value = reqwest::header::HeaderValue::from_str(v)
                        .map_err(|e| format!("header {k}: {e}"))?;
                    value.set_sensitive(true);
                    headers.insert(name, value);
                }
                let client = reqwest::Client::builder()
                    .use_preconfigured_tls(tls_config(s)?)
                    .default_headers(headers)
                    .user_agent(concat!("vitals/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(s.timeout)
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(|e| format!("building the HTTP client: {e}"))?;
                Ok(Transport::Http {
                    client,
                    url: s.endpoint.clone(),
                    gzip: s.compression == Compression::Gzip,
                })
            }
            Protocol::Grpc => {
                let mut endpoint = tonic::transport::Endpoint::from_shared(s.endpoint.clone())
                    .map_err(|e| format!("endpoint {}: {e}", s.endpoint))?
                    .connect_timeout(s.timeout)
                    .user_agent(concat!("vitals/", env!("CARGO_PKG_VERSION")))
                    .map_err(|e| e.to_string())?;
                if s.endpoint.starts_with("https://") {
                    let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
                    if let Some(ca) = &s.ca_file {
                        tls =
                            tls.ca_certificate(tonic::transport::Certificate::from_pem(read(ca)?));
                    }
                    if let (Some(cert), Some(key)) = (&s.cert_file, &s.key_file) {
                        tls = tls.identity(tonic::transport::Identity::from_pem(
                            read(cert)?,
                            read(key)?,
                        ));
                    }
                    endpoint = endpoint
                        .tls_config(tls)
                        .map_err(|e| format!("TLS for {}: {e}", s.endpoint))?;
                }
                // Lazy: a receiver that is down at start is retried at each push.
                let channel = endpoint.connect_lazy();
                let mut client = MetricsServiceClient::new(channel)
                    .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                if s.compression == Compression::Gzip {
                    client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                let headers = s
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        tonic::metadata::MetadataKey::from_bytes(k.as_bytes())
                            .map(|key| (key, v.clone()))
                            .map_err(|e| format!("header {k}: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Transport::Grpc { client, headers })
            }
        }
    }

    /// Sends one request, waiting at most `within`.
    pub async fn send(
        &mut self,
        request: &ExportMetricsServiceRequest,
        within: Duration,
    ) -> Result<Accepted, Failure> {
        match self {
            Transport::Http { client, url, gzip } => {
                let mut body = request.encode_to_vec();
                let mut call = client
                    .post(url.as_str())
                    .timeout(within)
                    .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf");
                if *gzip {
                    body = crate::export::gzip(&body);
                    call = call.header(reqwest::header::CONTENT_ENCODING, "gzip");
                }
                let response = call.body(body).send().await.map_err(http_failure)?;
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let bytes = response.bytes().await.map_err(http_failure)?;
                if status.is_success() {
                    let answer = ExportMetricsServiceResponse::decode(bytes).unwrap_or_default();
                    return Ok(accepted(answer));
                }
                let reason = match status.as_u16() {
                    429 | 502 | 503 | 504 => Reason::Unavailable,
                    _ => Reason::Rejected,
                };
                let text = String::from_utf8_lossy(&bytes);
                Err(Failure {
                    reason,
                    retry_after,
                    message: format!(
                        "HTTP {status}: {}",
                        text.chars().take(200).collect::<String>()
                    ),
                })
            }
            Transport::Grpc { client, headers } => {
                let mut call = tonic::Request::new(request.clone());
                call.set_timeout(within);
                for (k, v) in headers.iter() {
                    if let Ok(value) = v.parse() {
                        call.metadata_mut().insert(k.clone(), value);
                    }
                }
                let answer = tokio::time::timeout(within, client.export(call))
                    .await
                    .map_err(|_| Failure {
                        reason: Reason::Timeout,
                        retry_after: None,
                        message: format!("no answer within {within:?}"),
                    })?;
                match answer {
                    Ok(response) => Ok(accepted(response.into_inner())),
                    Err(status) => Err(grpc_failure(&status)),
                }
            }
        }
    }
}

fn accepted(answer: ExportMetricsServiceResponse) -> Accepted {
    answer
        .partial_success
        .map(|p| Accepted {
            rejected_points: p.rejected_data_points,
            message: p.error_message,
        })
        .unwrap_or_default()
}

fn http_failure(e: reqwest::Error) -> Failure {
    let reason = if e.is_timeout() {
        Reason::Timeout
    } else {
        Reason::Connect
    };
    // reqwest's Display leaves out the cause ("error sending request"): add the chain.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Failure {
        reason,
        retry_after: None,
        message,
    }
}

fn grpc_failure(status: &tonic::Status) -> Failure {
    use tonic::Code;
    let reason = match status.code() {
        Code::Unavailable if status.message().contains("connect") => Reason::Connect,
        Code::Unavailable
        | Code::Cancelled
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss
        | Code::ResourceExhausted => Reason::Unavailable,
        Code::DeadlineExceeded => Reason::Timeout,
        _ => Reason::Rejected,
    };
    let mut message = format!("gRPC {:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        message.push_str(&format!(": {source}"));
    }
    Failure {
        reason,
        retry_after: None,
        message,
    }
}

/// `Retry-After` in seconds (an HTTP date is rare from receivers and is treated as absent).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn only_refusals_are_final() {
        assert!(Reason::Connect.retryable());
        assert!(Reason::Unavailable.retryable());
        assert!(!Reason::Rejected.retryable());
        let f = grpc_failure(&tonic::Status::invalid_argument("bad"));
        assert_eq!(f.reason, Reason::Rejected);
        let f = grpc_failure(&tonic::Status::resource_exhausted("slow down"));
        assert_eq!(f.reason, Reason::Unavailable);
    }
}
