//! The on-disk form of the OTLP queue: one append-only file of framed, checksummed records,
//! read back whole at start. A record is
//!
//! ```text
//! "VQ" | kind u8 | 0 u8 | payload length u32 LE | crc32 u32 LE | payload
//! ```
//!
//! where the CRC-32 (IEEE, `crc32fast`) covers the first eight header bytes and the payload.
//! Kinds: a queued request (`seq u64 | collected at, ns u64 | points u32 | gzip protobuf`)
//! and a done mark (`seq u64`) appended when a request left the queue (sent, refused or
//! dropped). Reading never fails: a record that does not check is skipped and counted, and a
//! torn tail (the last write cut short by a crash) is one such record.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

const MAGIC: [u8; 2] = *b"VQ";
const HEADER: usize = 12;
const KIND_REQUEST: u8 = 1;
const KIND_DONE: u8 = 2;
/// Fixed part of a request's payload: seq, time, points.
const REQUEST_FIXED: usize = 8 + 8 + 4;
/// Bytes a queued request takes beyond its body, on disk and in the queue's accounting.
pub const OVERHEAD: usize = HEADER + REQUEST_FIXED;
/// The longest payload accepted when reading: longer is a corrupt length.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// A request as it is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub seq: u64,
    /// When its snapshots were collected (the newest), nanoseconds since the epoch.
    pub time_unix_nano: u64,
    pub points: u32,
    /// The `ExportMetricsServiceRequest`, protobuf, gzipped.
    pub body: Vec<u8>,
}

/// What a queue file holds: the requests not yet done, oldest first, and how many records
/// were skipped as corrupt.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub requests: Vec<Request>,
    pub corrupt: u64,
    /// Bytes of records that are not live requests (done marks, done requests, corrupt).
    pub dead_bytes: u64,
}

fn frame(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(kind);
    out.push(0);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[start..start + 8]);
    crc.update(payload);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// A request framed as a record.
pub fn request_record(r: &Request, out: &mut Vec<u8>) {
    let mut payload = Vec::with_capacity(REQUEST_FIXED + r.body.len());
    payload.extend_from_slice(&r.seq.to_le_bytes());
    payload.extend_from_slice(&r.time_unix_nano.to_le_bytes());
    payload.extend_from_slice(&r.points.to_le_bytes());
    payload.extend_from_slice(&r.body);
    frame(KIND_REQUEST, &payload, out);
}

/// A done mark for `seq`, framed.
pub fn done_record(seq: u64, out: &mut Vec<u8>) {
    frame(KIND_DONE, &seq.to_le_bytes(), out);
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The record at the start of `b`: its kind, payload and whole length; `None` when it does
/// not check (or is cut short).
fn record(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    if b.get(..2)? != MAGIC {
        return None;
    }
    let kind = *b.get(2)?;
    let len = u32_at(b, 4)? as usize;
    if len > MAX_PAYLOAD {
        return None;
    }
    let crc = u32_at(b, 8)?;
    let payload = b.get(HEADER..HEADER + len)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&b[..8]);
    h.update(payload);
    (h.finalize() == crc).then_some((kind, payload, HEADER + len))
}

/// Where the corrupt region starting at `b[0]` ends: after its own length when that lands
/// on the start of a record or the end (one damaged record), else at the next record that
/// checks.
fn skip_corrupt(b: &[u8]) -> usize {
    if let Some(len) = u32_at(b, 4).map(|l| l as usize)
        && len <= MAX_PAYLOAD
        && let Some(end) = len.checked_add(HEADER)
        && end <= b.len()
        && (end == b.len() || b[end..].starts_with(&MAGIC))
    {
        return end;
    }
    (1..b.len())
        .find(|&i| b[i..].starts_with(&MAGIC) && record(&b[i..]).is_some())
        .unwrap_or(b.len())
}

/// Reads a queue file's bytes. Pure: the fuzz target and the tests call it on any bytes.
pub fn scan(b: &[u8]) -> Scan {
    let mut out = Scan::default();
    let mut done = std::collections::HashSet::new();
    let mut at = 0;
    while at < b.len() {
        let Some((kind, payload, len)) = record(&b[at..]) else {
            let skip = skip_corrupt(&b[at..]);
            out.corrupt += 1;
            out.dead_bytes += skip as u64;
            at += skip;
            continue;
        };
        at += len;
        match (kind, payload.len()) {
            (KIND_REQUEST, n) if n >= REQUEST_FIXED => out.requests.push(Request {
                seq: u64_at(payload, 0).unwrap_or(0),
                time_unix_nano: u64_at(payload, 8).unwrap_or(0),
                points: u32_at(payload, 16).unwrap_or(0),
                body: payload[REQUEST_FIXED..].to_vec(),
            }),
            (KIND_DONE, 8) => {
                done.insert(u64_at(payload, 0).unwrap_or(0));
                out.dead_bytes += len as u64;
            }
            // A record that checks but is of no kind we know: a future format, skipped.
            _ => {
                out.corrupt += 1;
                out.dead_bytes += len as u64;
            }
        }
    }
    let mut live = Vec::with_capacity(out.requests.len());
    for r in std::mem::take(&mut out.requests) {
        if done.contains(&r.seq) || live.last().is_some_and(|l: &Request| l.seq >= r.seq) {
            out.dead_bytes += (OVERHEAD + r.body.len()) as u64;
        } else {
            live.push(r);
        }
    }
    out.requests = live;
    out
}

/// The queue's directory: its lock, its file, and how much of the file is dead.
pub struct Store {
    dir: PathBuf,
    file: File,
    /// Held (flock) while the store lives: a second daemon on the directory cannot take it.
    _lock: File,
    len: u64,
    dead: u64,
}

pub const FILE_NAME: &str = "queue.log";
pub const LOCK_NAME: &str = "lock";
/// The longest queue file read at start; beyond it the file is not ours to trust whole.
const MAX_FILE: u64 = 1 << 30;

impl Store {
    /// Opens (creating) the directory, takes its lock and reads what a previous run left.
    pub fn open(dir: &Path) -> io::Result<(Store, Scan)> {
        std::fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_NAME))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("locked by another process ({e})"),
                )
            },
        )?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dir.join(FILE_NAME))?;
        let mut bytes = Vec::new();
        // Past the cap the rest is not read: the scan counts the cut record as corrupt and
        // the rewrite keeps only what was read.
        crate::host::read_capped_from(&mut file, MAX_FILE, &mut bytes)?;
        let scan = scan(&bytes);
        let mut store = Store {
            dir: dir.to_path_buf(),
            file,
            _lock: lock,
            len: bytes.len() as u64,
            dead: scan.dead_bytes,
        };
        // Start from a clean file: only the live requests, no corrupt bytes.
        store.rewrite(&scan.requests)?;
        Ok((store, scan))
    }

    /// Bytes the file takes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Bytes of the file that a rewrite would free.
    pub fn dead(&self) -> u64 {
        self.dead
    }

    /// Appends a request; returns the bytes written.
    pub fn append(&mut self, r: &Request) -> io::Result<u64> {
        let mut buf = Vec::with_capacity(OVERHEAD + r.body.len());
        request_record(r, &mut buf);
        self.write(&buf)
    }

    /// Marks a request done; returns the bytes written.
    pub fn done(&mut self, seq: u64, request_bytes: u64) -> io::Result<u64> {
        let mut buf = Vec::with_capacity(HEADER + 8);
        done_record(seq, &mut buf);
        let n = self.write(&buf)?;
        self.dead += request_bytes + n;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<u64> {
        self.file.seek(SeekFrom::Start(self.len))?;
        if let Err(e) = self.file.write_all(buf) {
            // Never leave a partial record behind what comes next.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += buf.len() as u64;
        Ok(buf.len() as u64)
    }

    /// Replaces the file by one holding only `live` (atomically: a new file renamed over
    /// the old). Returns the bytes written.
    pub fn rewrite(&mut self, live: &[Request]) -> io::Result<u64> {
        if live.is_empty() {
            self.file.set_len(0)?;
            self.len = 0;
            self.dead = 0;
            return Ok(0);
        }
        let mut buf = Vec::new();
        for r in live {
            request_record(r, &mut buf);
        }
        let tmp = self.dir.join(format!("{FILE_NAME}.tmp"));
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&tmp)?;
        f.write_all(&buf)?;
        f.sync_data()?;
        std::fs::rename(&tmp, self.dir.join(FILE_NAME))?;
        self.file = f;
        self.len = buf.len() as u64;
        self.dead = 0;
        Ok(buf.len() as u64)
    }

    /// Flushes what was written to the disk (at shutdown).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(seq: u64, body: &[u8]) -> Request {
        Request {
            seq,
            time_unix_nano: 1_000 + seq,
            points: 3,
            body: body.to_vec(),
        }
    }

    fn file_of(records: &[Request]) -> (Vec<u8>, Vec<usize>) {
        let mut out = Vec::new();
        let mut starts = Vec::new();
        for r in records {
            starts.push(out.len());
            request_record(r, &mut out);
        }
        (out, starts)
    }

    #[test]
    fn records_round_trip_and_done_marks_remove_them() {
        let rs = [req(1, b"one"), req(2, b""), req(3, b"three")];
        let (mut bytes, _) = file_of(&rs);
        assert_eq!(scan(&bytes).requests, rs);
        done_record(2, &mut bytes);
        let s = scan(&bytes);
        assert_eq!(s.requests, [rs[0].clone(), rs[2].clone()]);
        assert_eq!(s.corrupt, 0);
        assert_eq!(s.dead_bytes, (OVERHEAD + HEADER + 8) as u64);
    }

    #[test]
    fn a_torn_tail_and_a_flipped_byte_are_skipped_and_counted_once_each() {
        let rs: Vec<Request> = (1..=5).map(|i| req(i, &[i as u8; 40])).collect();
        let (mut bytes, starts) = file_of(&rs);
        // A byte of record 2's body flipped; record 5 cut in its middle.
        bytes[starts[1] + OVERHEAD + 7] ^= 0xff;
        bytes.truncate(starts[4] + 20);
        let s = scan(&bytes);
        assert_eq!(s.corrupt, 2);
        let seqs: Vec<u64> = s.requests.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 3, 4]);
        // Adjacent damage: records 3 and 4 both bad, each counted.
        let (mut bytes, starts) = file_of(&rs);
        bytes[starts[2] + HEADER + 1] ^= 1;
        bytes[starts[3] + HEADER + 1] ^= 1;
        let s = scan(&bytes);
        assert_eq!(s.corrupt, 2);
        assert_eq!(s.requests.len(), 3);
    }

    #[test]
    fn a_broken_length_resynchronises_on_the_next_record() {
        let rs: Vec<Request> = (1..=3).map(|i| req(i, b"body")).collect();
        let (mut bytes, starts) = file_of(&rs);
        bytes[starts[1] + 4..starts[1] + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let s = scan(&bytes);
        assert_eq!(s.corrupt, 1);
        assert_eq!(s.requests.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(
            scan(b"garbage"),
            Scan {
                corrupt: 1,
                dead_bytes: 7,
                ..Scan::default()
            }
        );
        assert_eq!(scan(b""), Scan::default());
    }

    #[test]
    fn the_fixture_files_written_by_python_read_as_expected() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp-queue");
        for (name, seqs, corrupt) in [
            ("clean.log", &[1u64, 3, 4][..], 0),
            ("torn-tail.log", &[1, 2, 3][..], 1),
            ("flipped-byte.log", &[1, 3, 4][..], 1),
        ] {
            let s = scan(&std::fs::read(dir.join(name)).unwrap());
            let got: Vec<u64> = s.requests.iter().map(|r| r.seq).collect();
            assert_eq!((got.as_slice(), s.corrupt), (seqs, corrupt), "{name}");
        }
    }

    #[test]
    fn random_damage_never_panics_and_what_is_read_reads_again() {
        let rs: Vec<Request> = (1..=6).map(|i| req(i, &[i as u8; 30])).collect();
        let (clean, _) = file_of(&rs);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5_000 {
            let mut b = clean.clone();
            for _ in 0..(next() % 4) {
                let i = (next() % b.len() as u64) as usize;
                b[i] = next() as u8;
            }
            b.truncate((next() % (b.len() as u64 + 1)) as usize);
            assert!(crate::fuzzing::run("otlp_queue_file", &b));
        }
    }

    #[test]
    fn the_store_survives_a_reopen_and_cleans_its_file() {
        let dir = std::env::temp_dir().join(format!("vitals-queue-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let (mut s, scan) = Store::open(&dir).unwrap();
            assert!(scan.requests.is_empty());
            s.append(&req(1, b"a")).unwrap();
            s.append(&req(2, b"b")).unwrap();
            s.done(1, (OVERHEAD + 1) as u64).unwrap();
            // A second store on the same directory is refused while this one lives.
            assert!(Store::open(&dir).is_err());
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE_NAME))
            .unwrap();
        f.write_all(b"VQ\x01\x00torn").unwrap();
        let (s, scan) = Store::open(&dir).unwrap();
        assert_eq!(scan.requests, [req(2, b"b")]);
        assert_eq!(scan.corrupt, 1);
        assert_eq!(s.file_len(), (OVERHEAD + 1) as u64);
        assert_eq!(s.dead(), 0);
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
