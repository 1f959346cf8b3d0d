//! The queue of OTLP requests between the encoder and the sender, bounded in bytes and age,
//! optionally written to a directory ([`super::queue_file`]) so a restart loses nothing.
//!
//! Policy, in one place: each push's request is queued; the sender takes the newest request
//! not yet tried first (a fresh export waits at most one interval, whatever the backlog),
//! then, while the receiver answers, the backlog oldest first at `drain_rate` requests a
//! second. A request leaves the queue when the receiver takes it or refuses it for good;
//! one that failed for a retryable reason stays. When full, or too old, the oldest go first.
//! Every drop is counted by reason.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use tracing::{error, warn};

use super::queue_file::{self, OVERHEAD, Request, Store};
use super::settings::QueueSettings;
use crate::catalog::{Instrument, MetricDesc};
use crate::snapshot::Snapshot;

pub static REQUESTS: MetricDesc = MetricDesc {
    name: "vitals.otlp.queue.requests",
    unit: "{request}",
    instrument: Instrument::UpDownCounter,
    help: "OTLP requests queued: not yet taken by the receiver",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static SIZE: MetricDesc = MetricDesc {
    name: "vitals.otlp.queue.size",
    unit: "By",
    instrument: Instrument::UpDownCounter,
    help: "Bytes of the queued OTLP requests (compressed, with their framing), bounded by [otlp.queue] max_bytes",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static OLDEST_AGE: MetricDesc = MetricDesc {
    name: "vitals.otlp.queue.oldest.age",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Age of the oldest queued OTLP request, 0 when the queue is empty; bounded by [otlp.queue] max_age",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static DROPPED: MetricDesc = MetricDesc {
    name: "vitals.otlp.queue.dropped",
    unit: "{request}",
    instrument: Instrument::Counter,
    help: "OTLP requests dropped from the queue by reason: full (oldest first, over max_bytes), too_old (over max_age), corrupt (a queue-file record that did not check), rejected (refused by the receiver); every reason shown from 0",
    attributes: &["reason"],
    source: "vitals",
    extension: true,
};

pub static DISK_WRITTEN: MetricDesc = MetricDesc {
    name: "vitals.otlp.queue.disk.written",
    unit: "By",
    instrument: Instrument::Counter,
    help: "Bytes written to the queue's directory (records, done marks, rewrites); absent without [otlp.queue] dir",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static DISK_UP: MetricDesc = MetricDesc {
    name: "vitals.otlp.queue.disk.up",
    unit: "1",
    instrument: Instrument::UpDownCounter,
    help: "1 while the queue is written to its directory, 0 once a disk error left it in memory only; absent without [otlp.queue] dir",
    attributes: &[],
    source: "vitals",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[
    &REQUESTS,
    &SIZE,
    &OLDEST_AGE,
    &DROPPED,
    &DISK_WRITTEN,
    &DISK_UP,
];

/// Why a request left the queue unsent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Full,
    TooOld,
    Corrupt,
    Rejected,
}

impl DropReason {
    pub const ALL: [DropReason; 4] = [
        DropReason::Full,
        DropReason::TooOld,
        DropReason::Corrupt,
        DropReason::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Full => "full",
            DropReason::TooOld => "too_old",
            DropReason::Corrupt => "corrupt",
            DropReason::Rejected => "rejected",
        }
    }
}

struct Entry {
    seq: u64,
    time_unix_nano: u64,
    points: u32,
    body: Arc<[u8]>,
    /// Sent at least once (or found on disk): backlog, paced, rather than fresh.
    tried: bool,
}

impl Entry {
    fn bytes(&self) -> u64 {
        (OVERHEAD + self.body.len()) as u64
    }
}

/// A request the sender is to send.
#[derive(Clone)]
pub struct Item {
    pub seq: u64,
    pub points: u32,
    /// The request, protobuf, gzipped.
    pub body: Arc<[u8]>,
    /// Never tried before.
    pub fresh: bool,
}

pub struct Queue {
    settings: QueueSettings,
    entries: VecDeque<Entry>,
    bytes: u64,
    next_seq: u64,
    dropped: [u64; 4],
    points_dropped: u64,
    store: Option<Store>,
    /// The directory in use or given up on (`disk_up` says which).
    dir: Option<PathBuf>,
    disk_up: bool,
    disk_written: u64,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("requests", &self.entries.len())
            .field("bytes", &self.bytes)
            .field("dir", &self.dir)
            .field("disk_up", &self.disk_up)
            .finish()
    }
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            settings: QueueSettings::default(),
            entries: VecDeque::new(),
            bytes: 0,
            next_seq: 1,
            dropped: [0; 4],
            points_dropped: 0,
            store: None,
            dir: None,
            disk_up: false,
            disk_written: 0,
        }
    }
}

impl Queue {
    /// Applies new limits (dropping what they no longer allow) and opens the directory when it
    /// changed, taking in what a previous run left there.
    pub fn configure(&mut self, settings: &QueueSettings, now_unix_nano: u64) {
        self.settings = settings.clone();
        if settings.dir != self.dir {
            self.store = None;
            self.dir = settings.dir.clone();
            self.disk_up = false;
            if let Some(dir) = settings.dir.clone() {
                self.open(&dir);
            }
        }
        self.expire(now_unix_nano);
        self.make_room(0);
    }

    fn open(&mut self, dir: &Path) {
        let (store, scan) = match Store::open(dir) {
            Ok(s) => s,
            Err(e) => {
                error!(dir = %dir.display(), error = %e, "the OTLP queue directory is unusable; the queue is kept in memory only");
                return;
            }
        };
        if scan.corrupt > 0 {
            warn!(dir = %dir.display(), records = scan.corrupt, "corrupt OTLP queue records skipped");
        }
        self.count_drop(DropReason::Corrupt, scan.corrupt, 0);
        // What the directory held is older than what this run queued (a reload onto a new
        // directory): it goes first, renumbered after what is in memory.
        let found: Vec<Entry> = scan
            .requests
            .into_iter()
            .map(|r| Entry {
                seq: 0,
                time_unix_nano: r.time_unix_nano,
                points: r.points,
                body: r.body.into(),
                tried: true,
            })
            .collect();
        let mut all: Vec<Entry> = found.into_iter().chain(self.entries.drain(..)).collect();
        for e in &mut all {
            e.seq = self.next_seq;
            self.next_seq += 1;
        }
        self.bytes = all.iter().map(Entry::bytes).sum();
        self.entries = all.into();
        self.store = Some(store);
        self.disk_up = true;
        self.rewrite();
    }

    /// Gives up on the directory after an error: one log line, memory from now on. The file
    /// is emptied when the disk still allows it (truncating frees space): what it holds would
    /// go stale as memory sends it, and a next start would send it again (deltas twice).
    fn disk_failed(&mut self, doing: &str, e: std::io::Error) {
        let emptied = self
            .store
            .take()
            .is_some_and(|mut store| store.rewrite(&[]).is_ok());
        if let Some(dir) = &self.dir {
            error!(dir = %dir.display(), error = %e, file_emptied = emptied, "{doing} the OTLP queue directory failed; the queue is kept in memory only from now on");
        }
        self.disk_up = false;
    }

    fn rewrite(&mut self) {
        let Some(store) = &mut self.store else { return };
        let live: Vec<Request> = self.entries.iter().map(request_of).collect();
        match store.rewrite(&live) {
            Ok(n) => self.disk_written += n,
            Err(e) => self.disk_failed("rewriting", e),
        }
    }

    fn count_drop(&mut self, reason: DropReason, requests: u64, points: u64) {
        self.dropped[reason as usize] += requests;
        self.points_dropped += points;
    }

    /// Drops the oldest request for `reason`.
    fn drop_oldest(&mut self, reason: DropReason) {
        if let Some(e) = self.entries.pop_front() {
            self.forget(&e, reason);
        }
    }

    /// Counts a request gone unsent and marks it done on disk.
    fn forget(&mut self, e: &Entry, reason: DropReason) {
        self.bytes -= e.bytes();
        self.count_drop(reason, 1, e.points as u64);
        self.mark_done(e);
    }

    fn mark_done(&mut self, e: &Entry) {
        if self.entries.is_empty() {
            // Nothing left: an empty file says it, without done marks.
            self.rewrite();
            return;
        }
        let Some(store) = &mut self.store else { return };
        match store.done(e.seq, e.bytes()) {
            Ok(n) => self.disk_written += n,
            Err(err) => self.disk_failed("writing to", err),
        }
    }

    /// Drops the oldest until `incoming` more bytes fit, on disk as in memory.
    ///
    /// The file only grows (its dead head goes only in a rewrite): when it would pass
    /// `max_bytes` it is rewritten with at most half of `max_bytes` of the newest requests,
    /// the older dropped as `full`. So a full queue rewrites the file once per half of
    /// `max_bytes` pushed, not at every push (a full queue of 1 MiB at one push a second
    /// wrote 1.1 GB in 30 minutes that way).
    fn make_room(&mut self, incoming: u64) {
        let max = self.settings.max_bytes;
        if let Some(store) = &self.store
            && store.file_len() + incoming > max
        {
            while !self.entries.is_empty() && self.bytes + incoming > max / 2 {
                // No done marks: the rewrite that follows leaves them out.
                if let Some(e) = self.entries.pop_front() {
                    self.bytes -= e.bytes();
                    self.count_drop(DropReason::Full, 1, e.points as u64);
                }
            }
            self.rewrite();
        }
        while !self.entries.is_empty() && self.bytes + incoming > max {
            self.drop_oldest(DropReason::Full);
        }
    }

    /// Drops what is older than `max_age`.
    pub fn expire(&mut self, now_unix_nano: u64) {
        let max_age = self.settings.max_age.as_nanos() as u64;
        while self
            .entries
            .front()
            .is_some_and(|e| now_unix_nano.saturating_sub(e.time_unix_nano) > max_age)
        {
            self.drop_oldest(DropReason::TooOld);
        }
    }

    /// Queues a request collected at `time_unix_nano` (gzipped protobuf).
    pub fn push(&mut self, time_unix_nano: u64, points: u32, body: Vec<u8>) {
        let e = Entry {
            seq: self.next_seq,
            time_unix_nano,
            points,
            body: body.into(),
            tried: false,
        };
        self.next_seq += 1;
        self.expire(time_unix_nano);
        if e.bytes() > self.settings.max_bytes {
            self.count_drop(DropReason::Full, 1, points as u64);
            return;
        }
        self.make_room(e.bytes());
        if let Some(store) = &mut self.store {
            match store.append(&request_of(&e)) {
                Ok(n) => self.disk_written += n,
                Err(err) => self.disk_failed("writing to", err),
            }
        }
        self.bytes += e.bytes();
        self.entries.push_back(e);
    }

    /// What to send next: the newest request never tried, else (when `backlog` allows) the
    /// oldest.
    pub fn next(&self, backlog: bool) -> Option<Item> {
        let item = |e: &Entry| Item {
            seq: e.seq,
            points: e.points,
            body: e.body.clone(),
            fresh: !e.tried,
        };
        if let Some(e) = self.entries.iter().rev().find(|e| !e.tried) {
            return Some(item(e));
        }
        self.entries.front().filter(|_| backlog).map(item)
    }

    /// Whether requests wait that were tried already.
    pub fn has_backlog(&self) -> bool {
        self.entries.iter().any(|e| e.tried)
    }

    /// A request failed for now: it stays, as backlog.
    pub fn tried(&mut self, seq: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.seq == seq) {
            e.tried = true;
        }
    }

    /// A request left the queue: taken by the receiver (`None`) or dropped for a reason.
    pub fn done(&mut self, seq: u64, dropped: Option<DropReason>) {
        let Some(i) = self.entries.iter().position(|e| e.seq == seq) else {
            return;
        };
        let Some(e) = self.entries.remove(i) else {
            return;
        };
        match dropped {
            Some(reason) => self.forget(&e, reason),
            None => {
                self.bytes -= e.bytes();
                self.mark_done(&e);
            }
        }
    }

    /// Flushes the directory's file to the disk (at shutdown).
    pub fn sync(&self) {
        if let Some(store) = &self.store
            && let Err(e) = store.sync()
        {
            warn!(error = %e, "syncing the OTLP queue file failed");
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn points_dropped(&self) -> u64 {
        self.points_dropped
    }

    pub fn drain_interval(&self) -> Duration {
        Duration::from_secs(1) / self.settings.drain_rate.max(1)
    }

    /// The queue's self-metrics.
    pub fn write(&self, out: &mut Snapshot, now_unix_nano: u64) {
        out.add(&REQUESTS, &[], self.entries.len() as f64);
        out.add(&SIZE, &[], self.bytes as f64);
        let age = self
            .entries
            .front()
            .map_or(0, |e| now_unix_nano.saturating_sub(e.time_unix_nano));
        out.add(&OLDEST_AGE, &[], age as f64 / 1e9);
        for r in DropReason::ALL {
            out.add(
                &DROPPED,
                &[("reason", r.as_str())],
                self.dropped[r as usize] as f64,
            );
        }
        if self.dir.is_some() {
            out.add(&DISK_WRITTEN, &[], self.disk_written as f64);
            out.add(&DISK_UP, &[], if self.disk_up { 1.0 } else { 0.0 });
        }
    }
}

fn request_of(e: &Entry) -> Request {
    Request {
        seq: e.seq,
        time_unix_nano: e.time_unix_nano,
        points: e.points,
        body: e.body.to_vec(),
    }
}

/// The request in a queued body (gzipped protobuf); `None` when it does not decode.
pub fn decode(body: &[u8]) -> Option<ExportMetricsServiceRequest> {
    use prost::Message as _;
    use std::io::Read as _;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(queue_file::MAX_PAYLOAD as u64 * 16)
        .read_to_end(&mut raw)
        .ok()?;
    ExportMetricsServiceRequest::decode(raw.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn settings(max_bytes: u64, max_age_s: u64) -> QueueSettings {
        QueueSettings {
            max_bytes,
            max_age: Duration::from_secs(max_age_s),
            ..QueueSettings::default()
        }
    }

    fn queue(max_bytes: u64, max_age_s: u64) -> Queue {
        let mut q = Queue::default();
        q.configure(&settings(max_bytes, max_age_s), 0);
        q
    }

    fn dropped(q: &Queue, r: DropReason) -> u64 {
        q.dropped[r as usize]
    }

    #[test]
    fn fresh_first_then_the_backlog_oldest_first() {
        let mut q = queue(1 << 20, 3600);
        for t in 1..=3 {
            q.push(t * S, 1, vec![t as u8; 10]);
        }
        // Never tried: the newest goes first.
        assert_eq!(q.next(false).map(|i| (i.seq, i.fresh)), Some((3, true)));
        q.tried(3);
        q.tried(2);
        q.tried(1);
        assert!(
            q.next(false).is_none(),
            "no backlog while it is not allowed"
        );
        assert_eq!(q.next(true).map(|i| (i.seq, i.fresh)), Some((1, false)));
        q.push(4 * S, 1, vec![4; 10]);
        assert_eq!(q.next(true).map(|i| i.seq), Some(4));
        q.done(4, None);
        q.done(1, None);
        assert_eq!(q.next(true).map(|i| i.seq), Some(2));
        assert_eq!(q.len(), 2);
        assert_eq!(q.bytes(), 2 * (OVERHEAD as u64 + 10));
    }

    #[test]
    fn full_and_too_old_drop_the_oldest_and_count() {
        let each = OVERHEAD as u64 + 100;
        let mut q = queue(3 * each, 10);
        for t in 1..=5 {
            q.push(t * S, 2, vec![0; 100]);
        }
        assert_eq!(q.len(), 3);
        assert_eq!(dropped(&q, DropReason::Full), 2);
        assert_eq!(q.next(true).map(|i| i.seq), Some(5));
        assert_eq!(q.entries.front().map(|e| e.seq), Some(3));
        // Older than 10 s at t = 14: 3 goes (11 s), 4 stays (10 s).
        q.expire(14 * S);
        assert_eq!(dropped(&q, DropReason::TooOld), 1);
        assert_eq!(q.len(), 2);
        // Larger than the whole queue: dropped at once.
        q.push(14 * S, 2, vec![0; 1000]);
        assert_eq!(dropped(&q, DropReason::Full), 3);
        assert_eq!(q.points_dropped(), 8);
        q.done(4, Some(DropReason::Rejected));
        assert_eq!(dropped(&q, DropReason::Rejected), 1);
        let mut out = Snapshot::default();
        q.write(&mut out, 15 * S);
        assert_eq!(out.family(DROPPED.name).map(|f| f.samples.len()), Some(4));
        assert!(out.family(DISK_UP.name).is_none());
    }

    #[test]
    fn the_directory_keeps_what_is_queued_and_stays_bounded() {
        let dir = std::env::temp_dir().join(format!("vitals-q-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let each = OVERHEAD as u64 + 100;
        let with_dir = QueueSettings {
            dir: Some(dir.clone()),
            ..settings(4 * each, 3600)
        };
        let file = dir.join(queue_file::FILE_NAME);
        {
            let mut q = Queue::default();
            q.configure(&with_dir, 0);
            for t in 1..=19u64 {
                q.push(t * S, 1, vec![t as u8; 100]);
                let len = std::fs::metadata(&file).unwrap().len();
                assert!(len <= 4 * each, "{len} bytes on disk after {t}");
            }
            // Full at 5, 8, ... 17: each time the file is rewritten with the newest half.
            assert_eq!(dropped(&q, DropReason::Full), 15);
            assert_eq!(
                q.disk_written,
                (19 + 5) * each,
                "19 appends and 5 rewrites of one"
            );
            q.done(18, None);
        }
        let mut q = Queue::default();
        q.configure(&with_dir, 20 * S);
        let seqs: Vec<u8> = q.entries.iter().map(|e| e.body[0]).collect();
        assert_eq!(seqs, [16, 17, 19]);
        assert!(
            q.next(false).is_none(),
            "what a previous run left is backlog"
        );
        for s in [1, 2, 3] {
            q.done(s, None);
        }
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 0);
        let mut out = Snapshot::default();
        q.write(&mut out, 20 * S);
        assert_eq!(
            out.family(DISK_UP.name).map(|f| f.samples[0].value),
            Some(1.0)
        );
        drop(q);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unusable_directory_leaves_the_queue_in_memory() {
        let mut q = Queue::default();
        q.configure(
            &QueueSettings {
                dir: Some("/proc/vitals-cannot-be-here".into()),
                ..settings(1 << 20, 3600)
            },
            0,
        );
        q.push(S, 1, vec![1; 10]);
        assert_eq!(q.len(), 1);
        let mut out = Snapshot::default();
        q.write(&mut out, S);
        assert_eq!(
            out.family(DISK_UP.name).map(|f| f.samples[0].value),
            Some(0.0)
        );
    }
}
