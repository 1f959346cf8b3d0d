//! Sending one request: OTLP/HTTP (a protobuf body over HTTP/1.1) or OTLP/gRPC (tonic's
//! unary call with prost's codec), both over one hyper client and one connector, and what the
//! receiver's answer means for a retry. TLS is one rustls client config for both protocols:
//! the webpki roots plus an optional CA file, and a client certificate for mTLS.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::Uri;
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

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

/// The OTLP/HTTP user agent, and the gRPC one.
const USER_AGENT: &str = concat!("vitals/", env!("CARGO_PKG_VERSION"));

pub enum Transport {
    Http {
        client: Client<Connector, Full<Bytes>>,
        url: Uri,
        /// The configured headers, then the user agent.
        headers: HeaderMap,
        gzip: bool,
    },
    Grpc {
        client: tonic::client::Grpc<GrpcService>,
        headers: Vec<(tonic::metadata::MetadataKey<tonic::metadata::Ascii>, String)>,
    },
}

/// A PEM file, through the capped read every file goes through.
fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    crate::host::read_file(path, crate::host::Limit::Pem)
        .map_err(|e| format!("reading {}: {e}", path.display()))
}

/// The certificates of a PEM file; none is an error, whatever the file is for.
fn certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// The rustls settings of both protocols: the webpki roots and `ca_file`, and the client
/// certificate for mTLS. `alpn` is what the protocol offers (gRPC needs `h2`).
fn tls_config(s: &Otlp, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = &s.ca_file {
        for cert in certificates(ca)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut config = match (&s.cert_file, &s.key_file) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert)?;
            let key_pem = read(key)?;
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| format!("client certificate: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

impl Transport {
    pub fn new(s: &Otlp) -> Result<Transport, String> {
        let endpoint: Uri = s
            .endpoint
            .parse()
            .map_err(|e| format!("endpoint {}: {e}", s.endpoint))?;
        match s.protocol {
            Protocol::HttpProtobuf => {
                let mut headers = HeaderMap::new();
                for (k, v) in &s.headers {
                    let name = HeaderName::from_bytes(k.as_bytes())
                        .map_err(|e| format!("header {k}: {e}"))?;
                    let mut value =
                        HeaderValue::from_str(v).map_err(|e| format!("header {k}: {e}"))?;
                    value.set_sensitive(true);
                    headers.insert(name, value);
                }
                headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
                let connector = Connector::new(s, &[])?;
                let client = Client::builder(TokioExecutor::new())
                    .pool_max_idle_per_host(1)
                    .build(connector);
                Ok(Transport::Http {
                    client,
                    url: endpoint,
                    headers,
                    gzip: s.compression == Compression::Gzip,
                })
            }
            Protocol::Grpc => {
                let connector = Connector::new(s, &[b"h2"])?;
                let http = Client::builder(TokioExecutor::new())
                    .http2_only(true)
                    .build(connector);
                // Lazy, like any hyper client: a receiver that is down at start is retried at
                // each push.
                let mut client = tonic::client::Grpc::with_origin(GrpcService(http), endpoint)
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
        let timeout = |what: &str| Failure {
            reason: Reason::Timeout,
            retry_after: None,
            message: format!("no {what} within {within:?}"),
        };
        match self {
            Transport::Http {
                client,
                url,
                headers,
                gzip,
            } => {
                let mut body = request.encode_to_vec();
                let mut call = hyper::Request::post(url.clone());
                if let Some(h) = call.headers_mut() {
                    h.clone_from(headers);
                    h.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-protobuf"),
                    );
                    if *gzip {
                        body = crate::export::gzip(&body);
                        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    }
                }
                let call = call
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| Failure {
                        reason: Reason::Rejected,
                        retry_after: None,
                        message: format!("building the request: {e}"),
                    })?;
                // One deadline for connecting, sending and reading the answer.
                let exchange = async {
                    let response = client.request(call).await.map_err(http_failure)?;
                    let (parts, body) = response.into_parts();
                    let bytes = body
                        .collect()
                        .await
                        .map_err(|e| http_failure_of(&e))?
                        .to_bytes();
                    Ok::<_, Failure>((parts, bytes))
                };
                let (parts, bytes) = tokio::time::timeout(within, exchange)
                    .await
                    .map_err(|_| timeout("answer"))??;
                let status = parts.status;
                if status.is_success() {
                    let answer = ExportMetricsServiceResponse::decode(bytes).unwrap_or_default();
                    return Ok(accepted(answer));
                }
                let retry_after = parts
                    .headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
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
                let answer = tokio::time::timeout(within, export(client, call))
                    .await
                    .map_err(|_| timeout("answer"))?;
                match answer {
                    Ok(response) => Ok(accepted(response.into_inner())),
                    Err(status) => Err(grpc_failure(&status)),
                }
            }
        }
    }
}

/// Opens the connections of both protocols: TCP within the export timeout, then TLS for an
/// `https` endpoint.
#[derive(Clone)]
pub struct Connector {
    tls: TlsConnector,
    timeout: Duration,
}

impl Connector {
    fn new(s: &Otlp, alpn: &[&[u8]]) -> Result<Connector, String> {
        Ok(Connector {
            tls: TlsConnector::from(Arc::new(tls_config(s, alpn)?)),
            timeout: s.timeout,
        })
    }

    async fn connect(self, uri: Uri) -> std::io::Result<TokioIo<Stream>> {
        use std::io::{Error, ErrorKind};
        let https = uri.scheme_str() == Some("https");
        let host = uri
            .host()
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "no host in the endpoint"))?;
        // An IPv6 literal comes bracketed.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let within = |e: &'static str| move |_| Error::new(ErrorKind::TimedOut, e);
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect((host, port)))
            .await
            .map_err(within("connect timed out"))??;
        tcp.set_nodelay(true)?;
        if !https {
            return Ok(TokioIo::new(Stream::Plain(tcp)));
        }
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        let tls = tokio::time::timeout(self.timeout, self.tls.connect(name, tcp))
            .await
            .map_err(within("TLS handshake timed out"))??;
        Ok(TokioIo::new(Stream::Tls(Box::new(tls))))
    }
}

impl tower::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<TokioIo<Stream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}

/// A connection to the receiver, in the clear or over TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Tls(tls) if tls.get_ref().1.alpn_protocol() == Some(b"h2") => {
                Connected::new().negotiated_h2()
            }
            _ => Connected::new(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The one gRPC method vitals calls. Written out rather than taken from opentelemetry-proto's
/// generated client, which needs tonic's `channel` transport (tower's balancer, buffer and
/// discovery, hyper-timeout) that vitals does not use: its calls go over [`GrpcService`].
async fn export(
    client: &mut tonic::client::Grpc<GrpcService>,
    call: tonic::Request<ExportMetricsServiceRequest>,
) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
    const EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    client.ready().await?;
    let codec = tonic_prost::ProstCodec::default();
    client
        .unary(
            call,
            hyper::http::uri::PathAndQuery::from_static(EXPORT),
            codec,
        )
        .await
}

/// The hyper client as tonic's transport: adds the user agent, and turns a failure to connect
/// into `UNAVAILABLE` with "connect" in its message, as tonic's own channel does.
#[derive(Clone)]
pub struct GrpcService(Client<Connector, tonic::body::Body>);

impl tower::Service<hyper::Request<tonic::body::Body>> for GrpcService {
    type Response = hyper::Response<hyper::body::Incoming>;
    type Error = tonic::Status;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, tonic::Status>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), tonic::Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: hyper::Request<tonic::body::Body>) -> Self::Future {
        request
            .headers_mut()
            .insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let call = self.0.request(request);
        Box::pin(async move {
            call.await.map_err(|e| {
                if e.is_connect() {
                    tonic::Status::unavailable(chain(&e))
                } else {
                    tonic::Status::from_error(Box::new(e))
                }
            })
        })
    }
}

/// An error with its causes: hyper's own Display leaves them out ("client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// Whether an error or one of its causes is a timeout (connecting or the TLS handshake).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

fn http_failure(e: hyper_util::client::legacy::Error) -> Failure {
    http_failure_of(&e)
}

fn http_failure_of(e: &(dyn std::error::Error + 'static)) -> Failure {
    Failure {
        reason: if timed_out(e) {
            Reason::Timeout
        } else {
            Reason::Connect
        },
        retry_after: None,
        message: chain(e),
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
