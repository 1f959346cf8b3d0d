//! The HTTP endpoint: `/metrics` encodes the latest published snapshots (it never reads the
//! host), `/healthz` and `/readyz` report liveness and readiness, `/` links to them.
//! Requests beyond the in-flight cap or the time limit are answered 503.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Semaphore;

use super::{openmetrics, text};
use crate::registry::Registry;

#[derive(Clone)]
pub struct AppState {
    registry: Arc<Registry>,
    in_flight: Arc<Semaphore>,
    timeout: Duration,
    /// The last body per format, reused while the registry's generation is unchanged:
    /// scrapes between two collections cost no encoding.
    cache: Arc<Mutex<[Option<Encoded>; 2]>>,
}

impl AppState {
    pub fn new(registry: Arc<Registry>, max_in_flight: usize, timeout: Duration) -> Self {
        Self {
            registry,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            timeout,
            cache: Arc::new(Mutex::new([None, None])),
        }
    }
}

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

    fn gzip(&mut self) -> std::io::Result<Bytes> {
        if let Some(gz) = &self.gzip {
            return Ok(gz.clone());
        }
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(self.body.len() / 4),
            flate2::Compression::fast(),
        );
        gz.write_all(&self.body)?;
        let gz = Bytes::from(gz.finish()?);
        self.gzip = Some(gz.clone());
        Ok(gz)
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(middleware::from_fn_with_state(state.clone(), limits))
        .with_state(state)
}

async fn limits(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        return busy("too many requests in flight\n");
    };
    match tokio::time::timeout(state.timeout, next.run(request)).await {
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

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (format, content_type) = if wants_openmetrics(&headers) {
        (Format::OpenMetrics, openmetrics::CONTENT_TYPE)
    } else {
        (Format::Text, text::CONTENT_TYPE)
    };
    let generation = state.registry.generation();
    let mut cache = state.cache.lock().unwrap_or_else(|e| e.into_inner());
    let slot = &mut cache[format as usize];
    let entry = match slot.take() {
        Some(e) if e.generation == generation => slot.insert(e),
        _ => match Encoded::new(&state.registry, generation, format) {
            Ok(e) => slot.insert(e),
            Err(_) => {
                return (StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n").into_response();
            }
        },
    };
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if accepts(&headers, header::ACCEPT_ENCODING, |c| c == "gzip")
        && let Ok(compressed) = entry.gzip()
    {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (response_headers, compressed).into_response();
    }
    (response_headers, entry.body.clone()).into_response()
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
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn requests_beyond_the_caps_get_503() {
        let state = AppState::new(
            Arc::new(Registry::new(&[], 3)),
            1,
            Duration::from_millis(100),
        );
        let app: Router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "done"
                }),
            )
            .layer(middleware::from_fn_with_state(state.clone(), limits))
            .with_state(state);
        let request = || Request::get("/slow").body(Body::empty()).unwrap();
        let (first, second) = tokio::join!(app.clone().oneshot(request()), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
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
