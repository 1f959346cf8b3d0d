//! The push loop, two halves joined in one task: every interval the producer encodes the
//! registry's latest snapshots (on the blocking pool, where `/metrics` is encoded too) into a
//! request and queues it ([`super::queue`]); the sender takes requests off the queue one at a
//! time, with retries (exponential backoff with jitter, the receiver's `Retry-After` honoured)
//! until the export's timeout. A request that still failed stays queued, to be sent again when
//! the receiver answers; one refused for good is dropped and counted. The producer never waits
//! for the network, so no interval is skipped however long the receiver is down. Logs once per
//! change of state, not per push.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prost::Message as _;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::encode::Encoder;
use super::queue::{self, DropReason, Item, Queue};
use super::settings::Otlp;
use super::transport::{Accepted, Failure, Reason, Transport};
use crate::catalog::{Instrument, MetricDesc};
use crate::registry::Registry;
use crate::snapshot::{Snapshot, unix_nanos};

pub static EXPORTS: MetricDesc = MetricDesc {
    name: "vitals.otlp.exports",
    unit: "{export}",
    instrument: Instrument::Counter,
    help: "OTLP exports (one request sent, retries included) by outcome: success (the receiver took it, maybe partly) or failure (still failing at the timeout: kept in the queue; or refused: dropped)",
    attributes: &["outcome"],
    source: "vitals",
    extension: true,
};

pub static FAILURES: MetricDesc = MetricDesc {
    name: "vitals.otlp.export.failures",
    unit: "{export}",
    instrument: Instrument::Counter,
    help: "Failed OTLP exports by the last error's reason: connect, timeout, unavailable (429, 502-504, gRPC UNAVAILABLE...), rejected (other refusals; not retried); every reason shown from 0",
    attributes: &["reason"],
    source: "vitals",
    extension: true,
};

pub static RETRIES: MetricDesc = MetricDesc {
    name: "vitals.otlp.export.retries",
    unit: "{attempt}",
    instrument: Instrument::Counter,
    help: "OTLP send attempts beyond the first of each export",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static POINTS: MetricDesc = MetricDesc {
    name: "vitals.otlp.points",
    unit: "{point}",
    instrument: Instrument::Counter,
    help: "Data points by outcome: sent (the receiver took them), rejected (named in a partial-success answer), dropped (in requests dropped from the queue)",
    attributes: &["outcome"],
    source: "vitals",
    extension: true,
};

pub static LAST_SUCCESS: MetricDesc = MetricDesc {
    name: "vitals.otlp.last_success.timestamp",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Unix time of the last OTLP export the receiver took; absent until the first",
    attributes: &[],
    source: "vitals",
    extension: true,
};

/// Longest the final export at shutdown may take: inside the daemon's 5 s deadline.
const FLUSH_WITHIN: Duration = Duration::from_secs(4);

pub static CATALOG: &[&MetricDesc] = &[
    &EXPORTS,
    &FAILURES,
    &RETRIES,
    &POINTS,
    &LAST_SUCCESS,
    &queue::REQUESTS,
    &queue::SIZE,
    &queue::OLDEST_AGE,
    &queue::DROPPED,
    &queue::DISK_WRITTEN,
    &queue::DISK_UP,
];

/// The queue's lock: a panic while it was held leaves numbers worth keeping.
pub fn lock(q: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the self-metrics report about the pusher.
#[derive(Debug, Default)]
pub struct Stats {
    succeeded: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    points_sent: AtomicU64,
    points_rejected: AtomicU64,
    last_success_unix_nano: AtomicU64,
    reasons: Mutex<BTreeMap<Reason, u64>>,
    /// The queue outlives a pusher: a reload hands it to the next one.
    queue: Arc<Mutex<Queue>>,
}

impl Stats {
    /// The queue, shared by the pushers and the self-metrics.
    pub fn queue(&self) -> Arc<Mutex<Queue>> {
        self.queue.clone()
    }

    /// The pusher's self-metrics, added to the registry's own.
    pub fn write(&self, out: &mut Snapshot) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        out.add(&EXPORTS, &[("outcome", "success")], get(&self.succeeded));
        out.add(&EXPORTS, &[("outcome", "failure")], get(&self.failed));
        let reasons = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        for r in Reason::ALL {
            let n = reasons.get(&r).copied().unwrap_or(0);
            out.add(&FAILURES, &[("reason", r.as_str())], n as f64);
        }
        drop(reasons);
        out.add(&RETRIES, &[], get(&self.retries));
        out.add(&POINTS, &[("outcome", "sent")], get(&self.points_sent));
        out.add(
            &POINTS,
            &[("outcome", "rejected")],
            get(&self.points_rejected),
        );
        let queue = lock(&self.queue);
        out.add(
            &POINTS,
            &[("outcome", "dropped")],
            queue.points_dropped() as f64,
        );
        queue.write(out, unix_nanos());
        drop(queue);
        let last = self.last_success_unix_nano.load(Ordering::Relaxed);
        if last > 0 {
            out.add(&LAST_SUCCESS, &[], last as f64 / 1e9);
        }
    }
}

/// The wait before retry `attempt` (1, 2, ...): 250 ms doubling up to 5 s, times a jitter
/// in [0.5, 1.5) drawn from `random`.
pub fn backoff(attempt: u32, random: u64) -> Duration {
    let base = Duration::from_millis(250).saturating_mul(1 << attempt.saturating_sub(1).min(5));
    let base = base.min(Duration::from_secs(5));
    let jitter = 0.5 + (random % 1000) as f64 / 1000.0;
    base.mul_f64(jitter)
}

/// xorshift64: enough randomness for jitter, no dependency.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// A running pusher.
pub struct Pusher {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Pusher {
    /// Starts pushing the registry's snapshots with these settings.
    pub fn spawn(
        settings: Otlp,
        transport: Transport,
        encoder: Encoder,
        registry: Arc<Registry>,
        stats: Arc<Stats>,
    ) -> Pusher {
        let (stop, stop_rx) = watch::channel(false);
        let queue = stats.queue();
        let wake = Arc::new(Notify::new());
        let (finished, finished_rx) = watch::channel(None);
        let producer = Producer {
            interval: settings.interval,
            encoder: Arc::new(Mutex::new(encoder)),
            registry: registry.clone(),
            queue: queue.clone(),
            wake: wake.clone(),
        };
        let sender = Sender {
            settings,
            transport,
            registry,
            stats,
            queue,
            healthy: true,
            next_backlog: Instant::now(),
            failing: None,
            partial: None,
            random: unix_nanos() | 1,
        };
        info!(
            endpoint = %sender.settings.endpoint,
            interval = ?sender.settings.interval,
            "OTLP push started"
        );
        let task = async move {
            tokio::join!(
                producer.run(stop_rx, finished),
                sender.run(finished_rx, wake)
            );
        };
        Pusher {
            stop,
            handle: tokio::spawn(task),
        }
    }

    /// Stops the loop after one final export (`flush`) or at once, and waits for it.
    pub async fn stop(self, flush: bool) {
        let _ = self.stop.send(flush);
        let _ = self.handle.await;
    }

    /// Stops the loop without waiting (a reload replacing it); what is queued stays queued.
    pub fn abandon(self) {
        self.handle.abort();
    }
}

/// Encodes a request every interval and queues it.
struct Producer {
    interval: Duration,
    encoder: Arc<Mutex<Encoder>>,
    registry: Arc<Registry>,
    queue: Arc<Mutex<Queue>>,
    wake: Arc<Notify>,
}

impl Producer {
    /// Queues a request every interval until `stop`; then one more when it asks for a flush,
    /// and tells the sender through `finished` (`Some(true)`: flush what is fresh).
    async fn run(self, mut stop: watch::Receiver<bool>, finished: watch::Sender<Option<bool>>) {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.produce().await,
                changed = stop.changed() => {
                    let flush = changed.is_ok() && *stop.borrow();
                    if flush {
                        self.produce().await;
                    }
                    let _ = finished.send(Some(flush));
                    return;
                }
            }
        }
    }

    /// Encodes the latest snapshots on the blocking pool and queues the request.
    async fn produce(&self) {
        let encoder = self.encoder.clone();
        let registry = self.registry.clone();
        let queue = self.queue.clone();
        let queued = tokio::task::spawn_blocking(move || {
            let snapshots = registry.gather();
            let (request, points) = encoder
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .encode(&snapshots);
            let body = crate::export::gzip(&request.encode_to_vec());
            lock(&queue).push(unix_nanos(), points as u32, body);
        })
        .await;
        if let Err(e) = queued {
            warn!(error = %e, "encoding an OTLP request failed");
        }
        self.registry.touch();
        self.wake.notify_one();
    }
}

/// Sends what the queue holds, one request at a time.
struct Sender {
    settings: Otlp,
    transport: Transport,
    registry: Arc<Registry>,
    stats: Arc<Stats>,
    queue: Arc<Mutex<Queue>>,
    /// The last send got through: the backlog may go.
    healthy: bool,
    /// When the next backlog request may go (`drain_rate`).
    next_backlog: Instant,
    /// The reason of the first failure, while exports fail.
    failing: Option<Reason>,
    /// The last partial-success message logged.
    partial: Option<String>,
    random: u64,
}

impl Sender {
    async fn run(mut self, mut finished: watch::Receiver<Option<bool>>, wake: Arc<Notify>) {
        loop {
            if finished.borrow().is_some() {
                break;
            }
            if let Some(item) = self.pick() {
                let deadline = Instant::now() + self.settings.timeout;
                self.send(item, deadline, Some(&mut finished)).await;
                continue;
            }
            let backlog_at =
                (self.healthy && lock(&self.queue).has_backlog()).then_some(self.next_backlog);
            tokio::select! {
                _ = wake.notified() => {}
                _ = sleep_until(backlog_at), if backlog_at.is_some() => {}
                _ = finished.changed() => break,
            }
        }
        if *finished.borrow() == Some(true) {
            self.flush().await;
        }
        let queue = self.queue.clone();
        let _ = tokio::task::spawn_blocking(move || lock(&queue).sync()).await;
    }

    /// The next request due: a fresh one, else the backlog's oldest when it may go.
    fn pick(&self) -> Option<Item> {
        let mut q = lock(&self.queue);
        q.expire(unix_nanos());
        q.next(self.healthy && Instant::now() >= self.next_backlog)
    }

    /// At shutdown: what is fresh, and the backlog while the receiver answers, within
    /// [`FLUSH_WITHIN`]; the rest stays queued (on disk with a directory).
    async fn flush(&mut self) {
        let deadline = Instant::now() + self.settings.timeout.min(FLUSH_WITHIN);
        while Instant::now() < deadline {
            match self.pick() {
                Some(item) => self.send(item, deadline, None).await,
                None if self.healthy
                    && lock(&self.queue).has_backlog()
                    && self.next_backlog < deadline =>
                {
                    tokio::time::sleep_until(self.next_backlog.into()).await;
                }
                None => break,
            }
        }
    }

    /// One export: send, retry until `deadline`. A finish signal (when given) cuts the
    /// retries short.
    async fn send(
        &mut self,
        item: Item,
        deadline: Instant,
        mut finished: Option<&mut watch::Receiver<Option<bool>>>,
    ) {
        let body = item.body.clone();
        let request = tokio::task::spawn_blocking(move || queue::decode(&body))
            .await
            .ok()
            .flatten();
        let Some(request) = request else {
            // Checked on disk and made by this process: only a bug gets here.
            self.finish(item.seq, Some(DropReason::Corrupt)).await;
            return;
        };
        if !item.fresh {
            self.next_backlog = Instant::now() + lock(&self.queue).drain_interval();
        }
        let mut attempt = 0u32;
        let mut last: Option<Failure> = None;
        let outcome = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Out of time between attempts: the export failed for the last attempt's reason.
                break Err(last.take().unwrap_or(Failure {
                    reason: Reason::Timeout,
                    retry_after: None,
                    message: "no time left for the export".into(),
                }));
            }
            let failure = match self.transport.send(&request, left).await {
                Ok(accepted) => break Ok(accepted),
                Err(f) => f,
            };
            attempt += 1;
            let wait = failure
                .retry_after
                .unwrap_or_else(|| backoff(attempt, next_random(&mut self.random)));
            if !failure.reason.retryable() || Instant::now() + wait >= deadline {
                break Err(failure);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            match finished.as_deref_mut() {
                Some(finished) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = finished.changed() => break Err(failure),
                    }
                }
                None => tokio::time::sleep(wait).await,
            }
            last = Some(failure);
        };
        self.settle(outcome, item).await;
    }

    /// Takes a request off the queue (sent, or dropped for `reason`), off the runtime's
    /// thread: with a directory it writes.
    async fn finish(&self, seq: u64, reason: Option<DropReason>) {
        let queue = self.queue.clone();
        let _ = tokio::task::spawn_blocking(move || lock(&queue).done(seq, reason)).await;
    }

    async fn settle(&mut self, outcome: Result<Accepted, Failure>, item: Item) {
        let s = &self.stats;
        match outcome {
            Ok(accepted) => {
                self.finish(item.seq, None).await;
                self.healthy = true;
                let s = &self.stats;
                let first = s.succeeded.fetch_add(1, Ordering::Relaxed) == 0;
                s.points_sent
                    .fetch_add(item.points as u64, Ordering::Relaxed);
                s.last_success_unix_nano
                    .store(unix_nanos(), Ordering::Relaxed);
                if self.failing.take().is_some() {
                    let queued = lock(&self.queue).len();
                    info!(endpoint = %self.settings.endpoint, queued, "OTLP export recovered");
                } else if first {
                    info!(endpoint = %self.settings.endpoint, points = item.points, "first OTLP export sent");
                }
                if accepted.rejected_points > 0 {
                    s.points_rejected
                        .fetch_add(accepted.rejected_points as u64, Ordering::Relaxed);
                    if self.partial.as_deref() != Some(accepted.message.as_str()) {
                        warn!(
                            rejected = accepted.rejected_points,
                            detail = %accepted.message,
                            "the OTLP receiver rejected part of an export"
                        );
                        self.partial = Some(accepted.message);
                    }
                }
            }
            Err(f) => {
                s.failed.fetch_add(1, Ordering::Relaxed);
                *s.reasons
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(f.reason)
                    .or_default() += 1;
                if f.reason.retryable() {
                    lock(&self.queue).tried(item.seq);
                    self.healthy = false;
                } else {
                    self.finish(item.seq, Some(DropReason::Rejected)).await;
                }
                // One warning when exports start failing, whatever the reasons after it.
                if self.failing.is_none() {
                    warn!(
                        endpoint = %self.settings.endpoint,
                        reason = f.reason.as_str(),
                        error = %f.message,
                        "OTLP export failed; retryable requests stay queued and go again when the receiver answers"
                    );
                    self.failing = Some(f.reason);
                }
            }
        }
        self.registry.touch();
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        assert_eq!(backoff(1, 500), Duration::from_millis(250));
        assert_eq!(backoff(2, 500), Duration::from_millis(500));
        assert_eq!(backoff(3, 0), Duration::from_millis(500));
        assert_eq!(backoff(40, 500), Duration::from_secs(5));
        assert!(backoff(40, 999) < Duration::from_millis(7500));
        let mut r = 1;
        let a = next_random(&mut r);
        assert_ne!(a, next_random(&mut r));
    }

    #[test]
    fn stats_show_every_reason_from_zero() {
        let s = Stats::default();
        let mut out = Snapshot::default();
        s.write(&mut out);
        assert_eq!(out.family(FAILURES.name).map(|f| f.samples.len()), Some(4));
        assert!(out.family(LAST_SUCCESS.name).is_none());
    }
}
