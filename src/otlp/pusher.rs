//! The push loop: every interval, the registry's latest snapshots are encoded and sent, with
//! retries (exponential backoff with jitter, the receiver's `Retry-After` honoured) until the
//! export's timeout; then the batch is dropped and counted. One batch at a time, so memory is
//! bounded however long the receiver is down. Logs once per change of state, not per push.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::encode::Encoder;
use super::settings::Otlp;
use super::transport::{Accepted, Failure, Reason, Transport};
use crate::catalog::{Instrument, MetricDesc};
use crate::registry::Registry;
use crate::snapshot::{Snapshot, unix_nanos};

pub static EXPORTS: MetricDesc = MetricDesc {
    name: "vitals.otlp.exports",
    unit: "{export}",
    instrument: Instrument::Counter,
    help: "OTLP exports by outcome: success (the receiver took the batch, maybe partly) or failure (dropped after retries until the timeout, or refused)",
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
    help: "Data points by outcome: sent (the receiver took them), rejected (named in a partial-success answer), dropped (in failed exports)",
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

pub static CATALOG: &[&MetricDesc] = &[&EXPORTS, &FAILURES, &RETRIES, &POINTS, &LAST_SUCCESS];

/// What the self-metrics report about the pusher.
#[derive(Debug, Default)]
pub struct Stats {
    succeeded: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    points_sent: AtomicU64,
    points_rejected: AtomicU64,
    points_dropped: AtomicU64,
    last_success_unix_nano: AtomicU64,
    reasons: Mutex<BTreeMap<Reason, u64>>,
}

impl Stats {
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
        out.add(
            &POINTS,
            &[("outcome", "dropped")],
            get(&self.points_dropped),
        );
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
        let task = Task {
            settings,
            transport,
            encoder,
            registry,
            stats,
            failing: None,
            partial: None,
            random: unix_nanos() | 1,
        };
        Pusher {
            stop,
            handle: tokio::spawn(task.run(stop_rx)),
        }
    }

    /// Stops the loop after one final export (`flush`) or at once, and waits for it.
    pub async fn stop(self, flush: bool) {
        let _ = self.stop.send(flush);
        let _ = self.handle.await;
    }

    /// Stops the loop without waiting (a reload replacing it).
    pub fn abandon(self) {
        self.handle.abort();
    }
}

struct Task {
    settings: Otlp,
    transport: Transport,
    encoder: Encoder,
    registry: Arc<Registry>,
    stats: Arc<Stats>,
    /// The reason of the first failure, while exports fail.
    failing: Option<Reason>,
    /// The last partial-success message logged.
    partial: Option<String>,
    random: u64,
}

impl Task {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        info!(
            endpoint = %self.settings.endpoint,
            interval = ?self.settings.interval,
            "OTLP push started"
        );
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + self.settings.interval,
            self.settings.interval,
        );
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                changed = stop.changed() => {
                    if changed.is_ok() && *stop.borrow() {
                        let within = self.settings.timeout.min(FLUSH_WITHIN);
                        self.export(Instant::now() + within, None).await;
                    }
                    return;
                }
            }
            let deadline = Instant::now() + self.settings.timeout;
            self.export(deadline, Some(&mut stop)).await;
        }
    }

    /// One export: encode the latest snapshots, send, retry until `deadline`. A stop signal
    /// (when given) cuts the retries short.
    async fn export(&mut self, deadline: Instant, mut stop: Option<&mut watch::Receiver<bool>>) {
        let snapshots = self.registry.gather();
        let (request, points) = self.encoder.encode(&snapshots);
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
            match stop.as_deref_mut() {
                Some(stop) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => break Err(failure),
                    }
                }
                None => tokio::time::sleep(wait).await,
            }
            last = Some(failure);
        };
        self.settle(outcome, points);
    }

    fn settle(&mut self, outcome: Result<Accepted, Failure>, points: usize) {
        let s = &self.stats;
        match outcome {
            Ok(accepted) => {
                let first = s.succeeded.fetch_add(1, Ordering::Relaxed) == 0;
                s.points_sent.fetch_add(points as u64, Ordering::Relaxed);
                s.last_success_unix_nano
                    .store(unix_nanos(), Ordering::Relaxed);
                if self.failing.take().is_some() {
                    info!(endpoint = %self.settings.endpoint, "OTLP export recovered");
                } else if first {
                    info!(endpoint = %self.settings.endpoint, points, "first OTLP export sent");
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
                s.points_dropped.fetch_add(points as u64, Ordering::Relaxed);
                *s.reasons
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(f.reason)
                    .or_default() += 1;
                // One warning when exports start failing, whatever the reasons after it.
                if self.failing.is_none() {
                    warn!(
                        endpoint = %self.settings.endpoint,
                        reason = f.reason.as_str(),
                        error = %f.message,
                        "OTLP export failed; its batch is dropped, the next push tries again"
                    );
                    self.failing = Some(f.reason);
                }
            }
        }
        self.registry.touch();
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
