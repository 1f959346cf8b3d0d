//! A body written a few families at a time, for `/metrics` bodies too large to keep between
//! scrapes: only a chunk is in memory at once, not the whole text. Joined, the chunks are
//! the bytes [`text::encode`] or [`openmetrics::encode`] return (gzipped as they go when
//! asked, to what [`super::gzip`] would give once decompressed).

use std::io::Write as _;
use std::sync::Arc;

use flate2::write::GzEncoder;

use super::{openmetrics, text};
use crate::snapshot::{Family, Snapshot};

/// Text gathered before a chunk goes out: large enough that a chunk costs one write and
/// one channel message, small enough to stay out of `mmap` (`crate::malloc`). A family
/// larger than this (1,000 cgroups' samples: about 150 KiB) is one chunk.
pub const CHUNK_BYTES: usize = 64 << 10;

pub struct Chunks {
    snapshots: Vec<Arc<Snapshot>>,
    openmetrics: bool,
    /// The next family to write, counted across the snapshots in order.
    next: usize,
    families: usize,
    gzip: Option<GzEncoder<Vec<u8>>>,
    /// Bytes of text written so far, before any gzip.
    len: usize,
    done: bool,
}

impl Chunks {
    pub fn new(snapshots: Vec<Arc<Snapshot>>, openmetrics: bool, gzip: bool) -> Self {
        let families = snapshots.iter().map(|s| s.families.len()).sum();
        Self {
            snapshots,
            openmetrics,
            next: 0,
            families,
            gzip: gzip.then(|| GzEncoder::new(Vec::new(), flate2::Compression::fast())),
            len: 0,
            done: false,
        }
    }

    /// Bytes of text written so far (the whole body's length once [`Chunks::next_chunk`]
    /// has returned `None`), before any gzip.
    pub fn text_len(&self) -> usize {
        self.len
    }

    /// The next piece of the body, `None` after the last. A gzipped body's pieces are what
    /// the compressor has let out, so some text can go by before the first one.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, std::fmt::Error> {
        while !self.done {
            let text = self.next_text()?;
            self.len += text.len();
            let Some(gz) = &mut self.gzip else {
                if text.is_empty() {
                    continue;
                }
                return Ok(Some(text.into_bytes()));
            };
            // Writing into a Vec cannot fail.
            let _ = gz.write_all(text.as_bytes());
            if self.done {
                let out = self.gzip.take().map(|gz| gz.finish().unwrap_or_default());
                return Ok(out);
            }
            let out = std::mem::take(gz.get_mut());
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    /// Families from the next one until [`CHUNK_BYTES`] or the end (then `# EOF` for
    /// OpenMetrics).
    fn next_text(&mut self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4);
        while out.len() < CHUNK_BYTES && self.next < self.families {
            if self.openmetrics {
                let range = self.next..self.next + 1;
                openmetrics::encode_families(&mut out, self.snapshots.clone(), range)?;
            } else if let Some(family) = self.family(self.next) {
                text::encode_family(&mut out, family);
            }
            self.next += 1;
        }
        if self.next == self.families {
            if self.openmetrics {
                openmetrics::encode_eof(&mut out)?;
            }
            self.done = true;
        }
        Ok(out)
    }

    fn family(&self, i: usize) -> Option<&Family> {
        self.snapshots.iter().flat_map(|s| &s.families).nth(i)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;
    use crate::collectors::{cpu, disk};

    /// Families of one sample and one of many samples, larger than a chunk, in two
    /// snapshots.
    fn snapshots() -> Vec<Arc<Snapshot>> {
        let mut a = Snapshot::default();
        a.add(&cpu::LOAD_1M, &[], 0.5);
        for i in 0..5000 {
            let name = format!("dev{i}");
            a.add(
                &disk::IO,
                &[("system.device", &name), ("disk.io.direction", "read")],
                f64::from(i) * 1.5,
            );
        }
        let mut b = Snapshot::default();
        b.add(
            &cpu::TIME,
            &[("cpu.mode", "idle"), ("cpu.logical_number", "0")],
            3.0,
        );
        b.add(&cpu::LOGICAL_COUNT, &[], 2.0);
        vec![Arc::new(a), Arc::new(b)]
    }

    fn joined(openmetrics: bool, gzip: bool) -> (Vec<u8>, usize, usize) {
        let mut chunks = Chunks::new(snapshots(), openmetrics, gzip);
        let (mut out, mut n) = (Vec::new(), 0);
        while let Some(c) = chunks.next_chunk().unwrap() {
            assert!(!c.is_empty());
            out.extend(c);
            n += 1;
        }
        assert_eq!(chunks.next_chunk().unwrap(), None);
        (out, n, chunks.text_len())
    }

    #[test]
    fn the_chunks_are_the_whole_body() {
        let whole = text::encode(&snapshots());
        let (body, n, len) = joined(false, false);
        assert_eq!(String::from_utf8(body).unwrap(), whole);
        assert_eq!(len, whole.len());
        assert!(whole.len() > 2 * CHUNK_BYTES, "{}", whole.len());
        assert!(n >= 2, "{n} chunks");

        let whole = openmetrics::encode(snapshots()).unwrap();
        let (body, n, len) = joined(true, false);
        assert_eq!(String::from_utf8(body).unwrap(), whole);
        assert_eq!(len, whole.len());
        assert!(n >= 2, "{n} chunks");
    }

    #[test]
    fn gzipped_chunks_decompress_to_the_whole_body() {
        for openmetrics in [false, true] {
            let whole = if openmetrics {
                openmetrics::encode(snapshots()).unwrap()
            } else {
                text::encode(&snapshots())
            };
            let (gz, _, len) = joined(openmetrics, true);
            assert_eq!(len, whole.len());
            let mut body = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut body)
                .unwrap();
            assert_eq!(body, whole);
        }
    }

    #[test]
    fn no_family_is_no_chunk_or_eof_alone() {
        let mut chunks = Chunks::new(Vec::new(), false, false);
        assert_eq!(chunks.next_chunk().unwrap(), None);
        let mut chunks = Chunks::new(Vec::new(), true, false);
        assert_eq!(chunks.next_chunk().unwrap(), Some(b"# EOF\n".to_vec()));
    }
}
