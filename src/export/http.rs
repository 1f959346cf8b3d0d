//! The HTTP endpoint: `/metrics` encodes the latest published snapshots (it never reads the
//! host), `/healthz` and `/readyz` report liveness and readiness, `/` links to them.
//! Requests beyond the in-flight cap or the time limit are answered 503; with a web config,
//! requests without the right credentials 401, and its headers go on every response.
//! Encoding and gzip
//! run on the blocking pool, so a large body never holds the runtime's thread: timers,
//! timeouts and probes go on meanwhile. A body up to [`CACHE_MAX_BYTES`] is kept for the
//! scrapes until the next collection; a larger one is encoded again for each scrape, a few
//! families at a time streamed into the response (`super::chunks`), so that it is never
//! whole in memory.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hyper::body::Frame;
use tokio::sync::Semaphore;

use super::chunks::Chunks;
use super::webconfig::WebState;
use super::{openmetrics, text};
use crate::registry::Registry;
use crate::serving::Serving;

#[derive(Clone)]
pub struct AppState {
    registry: Arc<Registry>,
    limits: Arc<RwLock<Limits>>,
    /// The last body per format, reused while the registry's generation is unchanged:
    /// scrapes between two collections cost no encoding.
    cache: Arc<tokio::sync::Mutex<[Option<Encoded>; 2]>>,
    /// Per format, the length of the last body encoded, which decides whether the next
    /// one is cached or streamed.
    last_len: Arc<[AtomicUsize; 2]>,
    /// TLS, basic auth and response headers from the web config file; replaced on reload.
    web: Arc<WebState>,
}

/// The request limits in force; a reload replaces them for the requests that follow.
struct Limits {
    max_in_flight: usize,
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl AppState {
    pub fn new(registry: Arc<Registry>, max_in_flight: usize, timeout: Duration) -> Self {
        Self {
            registry,
            limits: Arc::new(RwLock::new(Limits {
                max_in_flight,
                in_flight: Arc::new(Semaphore::new(max_in_flight)),
                timeout,
            })),
            cache: Arc::new(tokio::sync::Mutex::new([None, None])),
            last_len: Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]),
            web: Arc::new(WebState::default()),
        }
    }

    pub fn web(&self) -> &Arc<WebState> {
        &self.web
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// New limits for the requests that come after; requests in flight keep theirs.
    pub fn set_limits(&self, max_in_flight: usize, timeout: Duration) {
        let mut l = self.limits.write().unwrap_or_else(|e| e.into_inner());
        if l.max_in_flight != max_in_flight {
            l.max_in_flight = max_in_flight;
            l.in_flight = Arc::new(Semaphore::new(max_in_flight));
        }
        l.timeout = timeout;
    }

    fn limits(&self) -> (Arc<Semaphore>, Duration) {
        let l = self.limits.read().unwrap_or_else(|e| e.into_inner());
        (l.in_flight.clone(), l.timeout)
    }
}

/// The largest body kept between scrapes (each format's, and its gzip once asked for).
/// Larger ones are encoded for each scrape and streamed ([`stream`]). Measured with
/// `bench/cgroups.py` (docs/performance.md): at 9,000 series the body is 1.7 MiB, cached
/// RSS growth 3.8 MiB; at 46,000 series (7.1 MiB) the cached body put the growth at 11.1
/// to 15.1 MiB against the 8 (3 to 6 MiB streamed), while the scrape's p50 there,
/// re-encoding, stayed within the range of the cached body's (17.8 to 23.9 ms against 15.6
/// to 44.2 ms, loaded machine). The p50 of small hosts (0.05 ms) stays a cached one.
pub const CACHE_MAX_BYTES: usize = 2 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text = 0,
    OpenMetrics = 1,
}

struct Encoded {
    generation: u64,
    body: Bytes,
    gzip: Option<Bytes>,
}

impl Encoded {
    fn new(
        registry: &Registry,
        generation: u64,
        format: Format,
    ) -> Result<Encoded, std::fmt::Error> {
        let snapshots = registry.gather();
        let body = match format {
            Format::Text => text::encode(&snapshots),
            Format::OpenMetrics => openmetrics::encode(snapshots)?,
        };
        Ok(Encoded {
            generation,
            body: Bytes::from(body),
            gzip: None,
        })
    }

    fn gzip(&mut self) -> Bytes {
        self.gzip
            .get_or_insert_with(|| Bytes::from(super::gzip(&self.body)))
            .clone()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn_with_state(state.clone(), limits))
        .layer(middleware::from_fn_with_state(state.clone(), headers))
        .with_state(state)
}

/// The web config's `http_server_config.headers`, on every response (401s and 503s too).
async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let web = state.web.current();
    let mut response = next.run(request).await;
    for (name, value) in &web.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// The web config's rate limit (429) and basic auth (401); `/healthz` and `/readyz` stay
/// open with `server.auth_exempt_probes`, so kubelet probes need no credentials.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let web = state.web.current();
    if let Some(limit) = &web.rate_limit
        && !limit.allow()
    {
        return (StatusCode::TOO_MANY_REQUESTS, "too many requests\n").into_response();
    }
    if let Some(auth) = &web.auth {
        let path = request.uri().path();
        let exempt = web.exempt_probes && (path == "/healthz" || path == "/readyz");
        if !exempt
            && !auth
                .verify(request.headers().get(header::AUTHORIZATION))
                .await
        {
            state.registry.http().auth_failed();
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic")],
                "Unauthorized\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Longest request target served; longer ones get 414 (the headers' own limit is
/// `server.max_header_bytes`). A scrape's URL is a few dozen bytes.
const MAX_URI_BYTES: usize = 4096;

async fn limits(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len())
        > MAX_URI_BYTES
    {
        return (StatusCode::URI_TOO_LONG, "URI too long\n").into_response();
    }
    let (in_flight, timeout) = state.limits();
    let Ok(_permit) = in_flight.try_acquire_owned() else {
        return busy("too many requests in flight\n");
    };
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => busy("request timed out\n"),
    }
}

fn busy(message: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        message,
    )
        .into_response()
}

async fn landing() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html><head><title>vitals</title></head><body>",
        "<h1>vitals ",
        env!("CARGO_PKG_VERSION"),
        "</h1><p>Host metrics with psutil's semantics.</p><ul>",
        "<li><a href=\"/metrics\">/metrics</a>: the exposition (OpenMetrics when asked for, else Prometheus text 0.0.4)</li>",
        "<li><a href=\"/healthz\">/healthz</a>: the process is alive</li>",
        "<li><a href=\"/readyz\">/readyz</a>: every enabled collector has published</li>",
        "</ul></body></html>\n"
    ))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    let pending = state.registry.pending();
    if pending.is_empty() {
        "ready\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "waiting for the first collection of: {}\n",
                pending.join(", ")
            ),
        )
            .into_response()
    }
}

/// What the request headers ask for: OpenMetrics (else text 0.0.4), gzip.
#[doc(hidden)]
pub fn negotiate(headers: &HeaderMap) -> (bool, bool) {
    (
        wants_openmetrics(headers),
        accepts(headers, header::ACCEPT_ENCODING, |c| c == "gzip"),
    )
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (om, gzip) = negotiate(&headers);
    let (format, content_type) = if om {
        (Format::OpenMetrics, openmetrics::CONTENT_TYPE)
    } else {
        (Format::Text, text::CONTENT_TYPE)
    };
    let (body, gzipped) =
        if state.last_len[format as usize].load(Ordering::Relaxed) > CACHE_MAX_BYTES {
            (stream(&state, format, gzip), gzip)
        } else {
            let Some((body, gzipped)) = body(&state, format, gzip).await else {
                return (StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n").into_response();
            };
            (Body::from(body), gzipped)
        };
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if gzipped {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    (response_headers, body).into_response()
}

/// The body for this format (gzipped when asked and possible), from the cache or encoded on
/// the blocking pool. The encoding holds the cache's lock and fills the cache even when the
/// request that started it has timed out meanwhile, so the next request finds it done; a
/// body over [`CACHE_MAX_BYTES`] is served once and not kept, and the next scrapes of its
/// format are streamed.
async fn body(state: &AppState, format: Format, gzip: bool) -> Option<(Bytes, bool)> {
    let generation = state.registry.generation();
    let mut cache = state.cache.clone().lock_owned().await;
    let cached = move |e: &Encoded| {
        let body = if gzip { e.gzip.clone() } else { None };
        match body {
            Some(b) => (b, true),
            None => (e.body.clone(), false),
        }
    };
    if let Some(e) = &cache[format as usize]
        && e.generation == generation
        && (!gzip || e.gzip.is_some())
    {
        return Some(cached(e));
    }
    let registry = state.registry.clone();
    let last_len = state.last_len.clone();
    tokio::task::spawn_blocking(move || {
        let _serving = Serving::start();
        // A body of an older generation is never served again: the other format's goes
        // now rather than at that format's next scrape (7 MiB at 46,000 series).
        for entry in cache.iter_mut() {
            if entry.as_ref().is_some_and(|e| e.generation != generation) {
                *entry = None;
            }
        }
        let slot = &mut cache[format as usize];
        let reuse = slot.take();
        let mut entry = match reuse {
            Some(e) => e,
            None => Encoded::new(&registry, generation, format).ok()?,
        };
        last_len[format as usize].store(entry.body.len(), Ordering::Relaxed);
        if entry.body.len() > CACHE_MAX_BYTES {
            return Some(if gzip {
                (entry.gzip(), true)
            } else {
                (entry.body, false)
            });
        }
        if gzip {
            entry.gzip();
        }
        let out = cached(&entry);
        *slot = Some(entry);
        Some(out)
    })
    .await
    .ok()
    .flatten()
}

/// The body for this format encoded now, gzipped when asked: a chunk at a time on the
/// blocking pool, each when the connection asks for it. A client that stops reading holds
/// no thread and no encoding, only the snapshots it is served from, until the connection's
/// idle timeout closes it; so streams need no limit of their own.
fn stream(state: &AppState, format: Format, gzip: bool) -> Body {
    Body::new(Streamed {
        state: Stream::Start {
            registry: state.registry.clone(),
            gzip,
        },
        format,
        last_len: state.last_len.clone(),
        serving: Some(Serving::start()),
    })
}

struct Streamed {
    state: Stream,
    format: Format,
    /// Where the body's length goes once it is all out ([`AppState::last_len`]).
    last_len: Arc<[AtomicUsize; 2]>,
    /// Until the last chunk is out (or the client goes): collections yield to it.
    serving: Option<Serving>,
}

/// The chunks and the next one (`None` after the last).
type Step = (Chunks, Result<Option<Vec<u8>>, std::fmt::Error>);

enum Stream {
    Start { registry: Arc<Registry>, gzip: bool },
    Idle(Chunks),
    Encoding(tokio::task::JoinHandle<Step>),
    Done,
}

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = std::io::Error;

    /// A failed or panicked encoding fails the body, so the response is aborted instead of
    /// cut short.
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let openmetrics = self.format == Format::OpenMetrics;
        loop {
            let task = match std::mem::replace(&mut self.state, Stream::Done) {
                Stream::Done => {
                    self.serving = None;
                    return Poll::Ready(None);
                }
                Stream::Start { registry, gzip } => tokio::task::spawn_blocking(move || {
                    let mut chunks = Chunks::new(registry.gather(), openmetrics, gzip);
                    let next = chunks.next_chunk();
                    (chunks, next)
                }),
                Stream::Idle(mut chunks) => tokio::task::spawn_blocking(move || {
                    let next = chunks.next_chunk();
                    (chunks, next)
                }),
                Stream::Encoding(mut task) => {
                    let step = match Pin::new(&mut task).poll(cx) {
                        Poll::Pending => {
                            self.state = Stream::Encoding(task);
                            return Poll::Pending;
                        }
                        Poll::Ready(step) => step,
                    };
                    return Poll::Ready(match step {
                        Ok((chunks, Ok(Some(chunk)))) => {
                            self.state = Stream::Idle(chunks);
                            Some(Ok(Frame::data(Bytes::from(chunk))))
                        }
                        Ok((chunks, Ok(None))) => {
                            self.last_len[self.format as usize]
                                .store(chunks.text_len(), Ordering::Relaxed);
                            None
                        }
                        Ok((_, Err(e))) => Some(Err(std::io::Error::other(e))),
                        Err(e) => Some(Err(std::io::Error::other(e))),
                    });
                }
            };
            self.state = Stream::Encoding(task);
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, Stream::Done)
    }
}

/// OpenMetrics when the Accept header ranks it at least as high as plain text, as
/// Prometheus's scrape requests do.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    let om = quality(headers, header::ACCEPT, |t| {
        t == "application/openmetrics-text"
    });
    let plain = quality(headers, header::ACCEPT, |t| t == "text/plain");
    om > 0.0 && om >= plain
}

fn accepts(headers: &HeaderMap, name: header::HeaderName, matches: impl Fn(&str) -> bool) -> bool {
    quality(headers, name, matches) > 0.0
}

/// The highest q-value the header gives to a matching entry, 0 when none matches.
fn quality(headers: &HeaderMap, name: header::HeaderName, matches: impl Fn(&str) -> bool) -> f32 {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let value = parts.next()?.trim().to_ascii_lowercase();
            if !matches(&value) {
                return None;
            }
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                })
                .next()
                .unwrap_or(1.0);
            Some(q)
        })
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    async fn body_text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 30).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// On the paused clock: the handler's 5 s and the 100 ms timeout are virtual, and the
    /// second request is sent once the first is inside the handler, holding the permit.
    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_caps_get_503() {
        let state = AppState::new(Arc::new(Registry::new(3)), 1, Duration::from_millis(100));
        let entered = Arc::new(tokio::sync::Notify::new());
        let handler = {
            let entered = entered.clone();
            move || async move {
                entered.notify_one();
                tokio::time::sleep(Duration::from_secs(5)).await;
                "done"
            }
        };
        let app: Router = Router::new()
            .route("/slow", get(handler))
            .layer(middleware::from_fn_with_state(state.clone(), limits))
            .with_state(state);
        let request = || Request::get("/slow").body(Body::empty()).unwrap();
        let (first, second) = tokio::join!(app.clone().oneshot(request()), async {
            entered.notified().await;
            app.clone().oneshot(request()).await
        });
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_text(second).await, "too many requests in flight\n");
        assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_text(first).await, "request timed out\n");
        // The permit is back: the next request is served (and times out again).
        let third = app.oneshot(request()).await.unwrap();
        assert_eq!(body_text(third).await, "request timed out\n");
    }

    /// A registry whose body takes far longer to encode than the request timeout.
    fn huge_registry(series: usize) -> Arc<Registry> {
        use crate::collectors::disk;
        use crate::snapshot::Snapshot;
        let registry = Arc::new(Registry::new(3));
        let slot = registry.slot("disk", 0, Duration::from_secs(60));
        let mut s = Snapshot::default();
        for i in 0..series {
            let name = format!("dev{i}");
            s.add(
                &disk::IO,
                &[("system.device", &name), ("disk.io.direction", "read")],
                i as f64,
            );
        }
        registry.publish(&slot, s, Duration::ZERO);
        registry
    }

    #[tokio::test]
    async fn a_slow_encoding_still_times_out_with_503() {
        // On this current-thread runtime, as in the daemon: if the encoder ran on the
        // runtime's thread, the timeout could not fire before it finished and the answer
        // would be a late 200.
        let state = AppState::new(huge_registry(400_000), 4, Duration::from_millis(20));
        let app = router(state.clone());
        let request = || Request::get("/metrics").body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_text(response).await, "request timed out\n");
        // Probes are answered while the encoder still runs.
        let health = app
            .clone()
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        // The encoding went on without the request; over the cache's cap, it left the
        // body's length, so with a longer timeout the body comes streamed and whole.
        state.set_limits(4, Duration::from_secs(120));
        let response = app.oneshot(request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = body_text(response).await;
        assert!(text.contains("system_disk_io_bytes_total{system_device=\"dev399999\""));
    }

    async fn scrape(app: &Router, headers: &[(header::HeaderName, &str)]) -> Response {
        let mut request = Request::get("/metrics");
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        app.clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn gunzip(bytes: &[u8]) -> String {
        use std::io::Read as _;
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_streamed_from_the_second_scrape() {
        let app = router(AppState::new(
            huge_registry(40_000),
            4,
            Duration::from_secs(60),
        ));
        let first = scrape(&app, &[]).await;
        assert!(first.headers().contains_key(header::CONTENT_LENGTH));
        let whole = body_text(first).await;
        assert!(whole.len() > CACHE_MAX_BYTES, "{}", whole.len());
        for _ in 0..2 {
            let streamed = scrape(&app, &[]).await;
            assert_eq!(streamed.status(), StatusCode::OK);
            assert!(!streamed.headers().contains_key(header::CONTENT_LENGTH));
            assert_eq!(body_text(streamed).await, whole);
        }
        let gz = scrape(&app, &[(header::ACCEPT_ENCODING, "gzip")]).await;
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let bytes = axum::body::to_bytes(gz.into_body(), 1 << 30).await.unwrap();
        assert_eq!(gunzip(&bytes), whole);
        // OpenMetrics has its own length: its first body comes whole too, then streamed.
        let om = [(header::ACCEPT, "application/openmetrics-text")];
        let first = scrape(&app, &om).await;
        assert!(first.headers().contains_key(header::CONTENT_LENGTH));
        let whole = body_text(first).await;
        let streamed = scrape(&app, &om).await;
        assert!(!streamed.headers().contains_key(header::CONTENT_LENGTH));
        assert_eq!(body_text(streamed).await, whole);
    }

    #[tokio::test]
    async fn a_small_body_is_kept_and_sent_with_its_length() {
        let app = router(AppState::new(huge_registry(10), 4, Duration::from_secs(10)));
        for _ in 0..2 {
            for headers in [&[][..], &[(header::ACCEPT_ENCODING, "gzip")]] {
                let r = scrape(&app, headers).await;
                assert!(r.headers().contains_key(header::CONTENT_LENGTH));
            }
        }
    }

    #[tokio::test]
    async fn a_stream_whose_encoder_panicked_fails_instead_of_ending() {
        let body = Body::new(Streamed {
            state: Stream::Encoding(tokio::task::spawn_blocking(move || {
                panic!("the encoder panicked");
            })),
            format: Format::Text,
            last_len: Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]),
            serving: None,
        });
        assert!(axum::body::to_bytes(body, 1 << 20).await.is_err());
    }

    #[tokio::test]
    async fn the_cached_body_shows_the_http_counts_as_they_are() {
        let registry = Arc::new(Registry::new(3));
        let app = router(AppState::new(registry.clone(), 4, Duration::from_secs(10)));
        let scrape = || async {
            let r = app
                .clone()
                .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
                .await
                .unwrap();
            body_text(r).await
        };
        assert!(
            scrape()
                .await
                .contains("vitals_http_auth_failures_total 0\n")
        );
        registry.http().auth_failed();
        // No collector published in between: only the HTTP counts changed.
        assert!(
            scrape()
                .await
                .contains("vitals_http_auth_failures_total 1\n")
        );
    }

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn content_negotiation() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(&accept(prometheus)));
        assert!(!wants_openmetrics(&accept("text/plain")));
        assert!(!wants_openmetrics(&accept("*/*")));
        assert!(!wants_openmetrics(&HeaderMap::new()));
        assert!(!wants_openmetrics(&accept(
            "application/openmetrics-text;q=0.2,text/plain;q=0.9"
        )));
        assert!(!wants_openmetrics(&accept(
            "application/openmetrics-text;q=0"
        )));
    }
}
