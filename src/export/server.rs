//! The listener: accepts connections, does the TLS handshake when the web config asks for it,
//! and serves HTTP/1.1 on each with hyper, under the connection limits:
//!
//! - at most `max_connections` at once. When all are taken, a new connection closes the one
//!   that has waited longest without a request in progress (an idle keep-alive, or a client
//!   still sending its headers, as a slowloris does), so slow or idle connections cannot lock
//!   a scraper out. Connections with a request in progress are never closed for this; when
//!   every one has one, the new connection is closed at once.
//! - `header_read_timeout`: a new connection has this long for its TLS handshake and first
//!   request headers; a kept-alive one has it from the first byte of its next request.
//! - `idle_timeout`: a kept-alive connection with no request is closed after this long.
//! - `max_header_bytes` and hyper's 100 headers: beyond, 431 and the connection is closed.
//!
//! The request limits (in flight, timeout, auth) are the router's (`http.rs`).

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;
use tracing::{debug, warn};

use super::http::AppState;
use crate::self_metrics::CloseReason;

/// The connection limits in force; a reload replaces them for the connections that follow
/// (and the timeouts of those open, at their next check).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
}

/// Shared between the daemon (which sets the limits on a reload) and its listeners.
#[derive(Clone)]
pub struct Limits(Arc<RwLock<ConnLimits>>);

impl Limits {
    pub fn new(l: ConnLimits) -> Limits {
        Limits(Arc::new(RwLock::new(l)))
    }

    pub fn set(&self, l: ConnLimits) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = l;
    }

    fn get(&self) -> ConnLimits {
        *self.0.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where one connection is, as its watchdog sees it.
struct ConnState {
    accepted: Instant,
    /// Requests in progress (more than one only when pipelined).
    busy: usize,
    /// Requests answered.
    served: u64,
    /// End of the last request (or the accept): the idle clock.
    since: Instant,
    /// First byte received since `since` while not busy: the header clock.
    first_byte: Option<Instant>,
    evict: bool,
}

struct Conn {
    state: Mutex<ConnState>,
    wake: Notify,
}

impl Conn {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the connection is to be closed, and why, if nothing happens meanwhile; `None`
    /// while a request is in progress (the router bounds it by `request_timeout`).
    fn deadline(&self, l: &ConnLimits) -> Option<(Instant, CloseReason)> {
        let s = self.lock();
        if s.busy > 0 {
            None
        } else if s.served == 0 {
            Some((
                s.accepted + l.header_read_timeout,
                CloseReason::HeaderTimeout,
            ))
        } else if let Some(t) = s.first_byte {
            Some((t + l.header_read_timeout, CloseReason::HeaderTimeout))
        } else {
            Some((s.since + l.idle_timeout, CloseReason::IdleTimeout))
        }
    }

    fn saw_bytes(&self) {
        let mut s = self.lock();
        if s.busy == 0 && s.first_byte.is_none() {
            s.first_byte = Some(Instant::now());
            drop(s);
            self.wake.notify_one();
        }
    }
}

/// Marks a request in progress on its connection until dropped (answered or abandoned).
struct Busy(Arc<Conn>);

impl Busy {
    fn new(conn: Arc<Conn>) -> Busy {
        conn.lock().busy += 1;
        Busy(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.busy = s.busy.saturating_sub(1);
        s.served += 1;
        s.since = Instant::now();
        s.first_byte = None;
        drop(s);
        self.0.wake.notify_one();
    }
}

/// The open connections of one listener.
#[derive(Default)]
struct Table {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    /// Signalled when a connection ends, for the shutdown to wait on.
    ended: Notify,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection, evicting the longest-waiting idle one when full. `None`
    /// when full of connections that all have a request in progress.
    fn admit(&self, max: usize) -> Option<(u64, Arc<Conn>)> {
        let mut conns = self.lock();
        let open = conns.values().filter(|c| !c.lock().evict).count();
        if open >= max {
            let victim = conns
                .values()
                .filter_map(|c| {
                    let s = c.lock();
                    (s.busy == 0 && !s.evict).then(|| (s.since, c.clone()))
                })
                .min_by_key(|(since, _)| *since);
            let (_, victim) = victim?;
            victim.lock().evict = true;
            victim.wake.notify_one();
        }
        let now = Instant::now();
        let conn = Arc::new(Conn {
            state: Mutex::new(ConnState {
                accepted: now,
                busy: 0,
                served: 0,
                since: now,
                first_byte: None,
                evict: false,
            }),
            wake: Notify::new(),
        });
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        conns.insert(id, conn.clone());
        Some((id, conn))
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.ended.notify_waiters();
    }
}

/// The socket, noting on its connection when bytes of a new request arrive.
struct Watched {
    io: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.saw_bytes();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves `listener` until `stop` turns true, then lets requests in progress finish, closes
/// idle connections and returns when none is left.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let router = super::http::router(state.clone());
    let registry = state.registry().clone();
    let table = Arc::new(Table::default());
    let mut last_full_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was accepted: keep
                // listening, without spinning.
                warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let l = limits.get();
        let Some((id, conn)) = table.admit(l.max_connections) else {
            registry.http().closed(CloseReason::Refused);
            if last_full_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                warn!(
                    max_connections = l.max_connections,
                    "connection refused: every connection has a request in progress (logged once a minute)"
                );
                last_full_warning = Some(Instant::now());
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (table, router, state, limits, stop, registry) = (
            table.clone(),
            router.clone(),
            state.clone(),
            limits.clone(),
            stop.clone(),
            registry.clone(),
        );
        registry.http().opened();
        tokio::spawn(async move {
            if let Some(reason) = connection(stream, conn, router, state, limits, stop).await {
                registry.http().closed(reason);
            }
            table.remove(id);
            registry.http().ended();
        });
    }
    drop(listener);
    loop {
        let ended = table.ended.notified();
        if table.lock().is_empty() {
            return Ok(());
        }
        ended.await;
    }
}

async fn connection(
    stream: TcpStream,
    conn: Arc<Conn>,
    router: Router,
    state: AppState,
    limits: Limits,
    stop: watch::Receiver<bool>,
) -> Option<CloseReason> {
    let io = Watched {
        io: stream,
        conn: conn.clone(),
    };
    let web = state.web().current();
    let mut stopping = stop.clone();
    // Ends with the reason when the connection failed in TLS.
    let serve = async {
        match &web.tls {
            None => http1(io, conn.clone(), router, &limits, stop).await,
            Some(tls) => match plain_http_to_tls(io).await {
                None => return Some(CloseReason::Tls),
                Some(io) => match tls.acceptor().accept(io).await {
                    Ok(tls_stream) => {
                        if !tls.client_allowed(tls_stream.get_ref().1) {
                            debug!("TLS client certificate not in client_allowed_sans");
                            return Some(CloseReason::Tls);
                        }
                        http1(tls_stream, conn.clone(), router, &limits, stop).await
                    }
                    Err(e) => {
                        debug!(error = %e, "TLS handshake failed");
                        return Some(CloseReason::Tls);
                    }
                },
            },
        }
        None
    };
    tokio::pin!(serve);
    let mut stopped = false;
    loop {
        let wake = conn.wake.notified();
        if conn.lock().evict {
            debug!("connection closed to make room for a new one");
            return Some(CloseReason::Evicted);
        }
        let deadline = conn.deadline(&limits.get()).map(|(at, _)| at);
        tokio::select! {
            reason = &mut serve => return reason,
            _ = wake => {}
            // Shutting down: a connection without a request in progress (idle, or still in
            // its handshake) goes now; one with a request finishes it (`http1`).
            _ = stopping.wait_for(|s| *s), if !stopped => {
                if conn.lock().busy == 0 {
                    return None;
                }
                stopped = true;
            }
            _ = sleep_until(deadline) => {
                if let Some((at, reason)) = conn.deadline(&limits.get())
                    && at <= Instant::now()
                {
                    debug!(reason = reason.as_str(), "connection closed");
                    return Some(reason);
                }
            }
        }
    }
}

/// A TLS connection starts with a handshake record (0x16). Anything else is most likely
/// plain HTTP sent to the TLS port: it gets a plain 400 saying so, as Go's servers answer,
/// rather than a bare reset. `None` when the connection is done with.
async fn plain_http_to_tls(mut io: Watched) -> Option<Watched> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut first = [0u8; 1];
    match io.io.peek(&mut first).await {
        Ok(1) if first[0] == 0x16 => Some(io),
        Ok(1) => {
            // Read what came, so that closing does not reset the answer away.
            let mut request = [0u8; 8192];
            let _ = io.read(&mut request).await;
            let _ = io
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
                )
                .await;
            let _ = io.shutdown().await;
            None
        }
        _ => None,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

async fn http1<I>(
    io: I,
    conn: Arc<Conn>,
    router: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let l = limits.get();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = Busy::new(conn.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            drop(busy);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .max_header_size(l.max_header_bytes)
        // The watchdog in `connection` keeps the header clock; hyper's would also run
        // between requests and cut kept-alive connections short.
        .header_read_timeout(None);
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    tokio::select! {
        r = &mut served => {
            if let Err(e) = r {
                debug!(error = %e, "HTTP connection ended with an error");
            }
            return;
        }
        _ = stop.wait_for(|s| *s) => {}
    }
    served.as_mut().graceful_shutdown();
    let _ = served.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_evicts_the_longest_idle_and_never_a_busy_one() {
        let table = Table::default();
        let (_, first) = table.admit(2).unwrap();
        let (_, second) = table.admit(2).unwrap();
        let busy = Busy::new(second.clone());
        // Full: the idle one goes, the busy one stays.
        let (_, third) = table.admit(2).unwrap();
        assert!(first.lock().evict);
        assert!(!second.lock().evict);
        let _busy_too = Busy::new(third.clone());
        // Every connection still open has a request in progress: the new one is refused.
        assert!(table.admit(2).is_none());
        drop(busy);
        // The finished request makes its connection idle, so it can go for a new one.
        assert!(table.admit(2).is_some());
        assert!(second.lock().evict);
    }

    #[test]
    fn deadlines_follow_the_connection() {
        let l = ConnLimits {
            max_connections: 1,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_header_bytes: 16_384,
        };
        let table = Table::default();
        let (_, c) = table.admit(1).unwrap();
        let accepted = c.lock().accepted;
        let at = |c: &Conn| c.deadline(&l).map(|(at, _)| at);
        assert_eq!(at(&c), Some(accepted + l.header_read_timeout));
        let busy = Busy::new(c.clone());
        assert_eq!(at(&c), None);
        drop(busy);
        let since = c.lock().since;
        assert_eq!(
            c.deadline(&l),
            Some((since + l.idle_timeout, CloseReason::IdleTimeout))
        );
        c.saw_bytes();
        let first = c.lock().first_byte.unwrap();
        assert_eq!(
            c.deadline(&l),
            Some((first + l.header_read_timeout, CloseReason::HeaderTimeout))
        );
    }
}
