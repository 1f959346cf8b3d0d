//! `/proc/diskstats`, the source of `disk_io_counters(perdisk=True)`.
//!
//! Line formats, by field count (Documentation/admin-guide/iostats.rst):
//! - 14: major, minor, name and 11 counters (Linux 2.6 to 4.17);
//! - 18: 4 discard counters added (4.18);
//! - 20: 2 flush counters added (5.5);
//! - 7: a partition on early 2.6 kernels (reads, read sectors, writes, write sectors);
//! - 15: Linux 2.4, the name in fourth place.
//!
//! psutil reads the same fields from the same places for each format.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::{ParseError, num};

/// One device's counters as the kernel reports them: operations, sectors of 512 bytes, and
/// milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// The kernel's name, bytes that need not be UTF-8.
    pub name: OsString,
    pub reads: u64,
    pub reads_merged: u64,
    pub read_sectors: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub writes_merged: u64,
    pub write_sectors: u64,
    pub write_ms: u64,
    pub in_flight: u64,
    pub io_ms: u64,
    pub weighted_io_ms: u64,
}

/// Bytes per diskstats sector, whatever the device's real sector size (psutil's
/// `DISK_SECTOR_SIZE`; the kernel counts in 512-byte units).
pub const SECTOR_BYTES: u64 = 512;

/// Parses the whole file. The device name is kept as bytes; every other field is a number.
pub fn parse_diskstats(text: &[u8]) -> Result<Vec<DiskStats>, ParseError> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let f: Vec<&[u8]> = super::words(line).collect();
        if f.is_empty() {
            continue;
        }
        let n = |i: usize| -> Result<u64, ParseError> {
            let field = std::str::from_utf8(f[i]).map_err(|_| {
                ParseError(format!(
                    "diskstats counter {:?}",
                    String::from_utf8_lossy(f[i])
                ))
            })?;
            num(field, "diskstats counter")
        };
        let name = |i: usize| OsString::from_vec(f[i].to_vec());
        let stats = match f.len() {
            14 | 15 | 18.. => {
                // Linux 2.4 has the read count before the name, later kernels after it.
                let (name, reads) = if f.len() == 15 {
                    (name(3), n(2)?)
                } else {
                    (name(2), n(3)?)
                };
                DiskStats {
                    name,
                    reads,
                    reads_merged: n(4)?,
                    read_sectors: n(5)?,
                    read_ms: n(6)?,
                    writes: n(7)?,
                    writes_merged: n(8)?,
                    write_sectors: n(9)?,
                    write_ms: n(10)?,
                    in_flight: n(11)?,
                    io_ms: n(12)?,
                    weighted_io_ms: n(13)?,
                }
            }
            7 => DiskStats {
                name: name(2),
                reads: n(3)?,
                read_sectors: n(4)?,
                writes: n(5)?,
                write_sectors: n(6)?,
                ..DiskStats::default()
            },
            other => {
                return Err(ParseError(format!(
                    "diskstats line with {other} fields: {:?}",
                    String::from_utf8_lossy(line)
                )));
            }
        };
        out.push(stats);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F14: &[u8] = include_bytes!("../../tests/fixtures/disk-formats/diskstats-14");
    const F18: &[u8] = include_bytes!("../../tests/fixtures/disk-formats/diskstats-18");
    const F20: &[u8] = include_bytes!("../../tests/fixtures/disk-formats/diskstats-20");

    fn sda(text: &[u8]) -> DiskStats {
        parse_diskstats(text)
            .expect("fixture parses")
            .into_iter()
            .find(|d| d.name == "sda")
            .expect("sda listed")
    }

    #[test]
    fn the_three_formats_give_the_same_counters() {
        let want = DiskStats {
            name: "sda".into(),
            reads: 482_113,
            reads_merged: 120_887,
            read_sectors: 31_544_022,
            read_ms: 218_334,
            writes: 1_922_001,
            writes_merged: 2_310_442,
            write_sectors: 98_341_976,
            write_ms: 4_413_118,
            in_flight: 3,
            io_ms: 1_880_512,
            weighted_io_ms: 4_760_231,
        };
        for text in [F14, F18, F20] {
            assert_eq!(sda(text), want);
        }
    }

    #[test]
    fn every_device_of_each_format() {
        for (text, names) in [
            (F14, vec!["sda", "sda1", "sda2", "loop0"]),
            (
                F18,
                vec!["sda", "sda1", "sda2", "nvme0n1", "nvme0n1p1", "dm-0"],
            ),
            (
                F20,
                vec![
                    "sda",
                    "sda1",
                    "sda2",
                    "nvme0n1",
                    "nvme0n1p1",
                    "zram0",
                    "ram0",
                    "cciss/c0d0",
                ],
            ),
        ] {
            let got: Vec<OsString> = parse_diskstats(text)
                .unwrap()
                .into_iter()
                .map(|d| d.name)
                .collect();
            assert_eq!(got, names);
        }
    }

    #[test]
    fn old_formats() {
        let d = parse_diskstats(b"   3    1 hda1 100 200 300 400\n").unwrap();
        assert_eq!(
            (
                d[0].reads,
                d[0].read_sectors,
                d[0].writes,
                d[0].write_sectors
            ),
            (100, 200, 300, 400)
        );
        let d = parse_diskstats(b"3 0 8 hda 9 10 11 12 13 14 15 16 17 18 19\n").unwrap();
        assert_eq!(
            (d[0].name.to_str(), d[0].reads, d[0].io_ms),
            (Some("hda"), 8, 17)
        );
        assert!(parse_diskstats(b"8 0 sda 1 2 3\n").is_err());
        assert!(parse_diskstats(b"8 0 sda 1 2 3 x 5 6 7 8 9 10 11\n").is_err());
        assert!(parse_diskstats(b"8 0 sda 1 2 3 \xff 5 6 7 8 9 10 11\n").is_err());
    }

    #[test]
    fn names_are_bytes() {
        let d = parse_diskstats(include_bytes!(
            "../../tests/fixtures/non-utf8/proc/diskstats"
        ))
        .unwrap();
        assert_eq!(d[1].name.as_encoded_bytes(), b"sd\xe9");
        assert_eq!((d[1].reads, d[1].write_sectors), (1000, 16000));
    }
}
