//! The kernel's BTF (`/sys/kernel/btf/vmlinux`, the type information of the running kernel):
//! the offsets in `struct task_struct` of the fields [`crate::host::task_free`]'s program
//! reads. Read as a stream in two passes, never whole (the file is 5 MB): the string section
//! for the offsets of the six names wanted, then the type section for the structs that use
//! them; every other kind is skipped by its size (the format: the kernel's
//! Documentation/bpf/btf.rst).

use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// Where a task's ids and CPU clock are in its `task_struct`, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskOffsets {
    pub pid: u32,
    pub tgid: u32,
    /// `se.sum_exec_runtime`: the ns the scheduler charged the task.
    pub runtime: u32,
}

const MAGIC: u16 = 0xeb9f;
const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_ENUM64: u32 = 19;
/// The highest kind known (`BTF_KIND_ENUM64`); a later one has an unknown size.
const KIND_MAX: u32 = 19;

/// The names looked for, in this order in [`Names`].
const WANTED: [&[u8]; 6] = [
    b"task_struct",
    b"pid",
    b"tgid",
    b"se",
    b"sched_entity",
    b"sum_exec_runtime",
];
const TASK: usize = 0;
const PID: usize = 1;
const TGID: usize = 2;
const SE: usize = 3;
const ENTITY: usize = 4;
const RUNTIME: usize = 5;

/// The string offsets of the wanted names.
type Names = [Option<u32>; 6];

/// A reader that counts what it took, with a small buffer.
struct Stream<R> {
    r: io::BufReader<R>,
    left: u64,
}

impl<R: Read> Stream<R> {
    fn u32(&mut self) -> Result<u32, &'static str> {
        let mut b = [0; 4];
        self.exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn exact(&mut self, b: &mut [u8]) -> Result<(), &'static str> {
        if (b.len() as u64) > self.left {
            return Err("a cut type");
        }
        self.r.read_exact(b).map_err(|_| "a cut section")?;
        self.left -= b.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), &'static str> {
        if n > self.left {
            return Err("a cut type");
        }
        let got =
            io::copy(&mut (&mut self.r).take(n), &mut io::sink()).map_err(|_| "a cut section")?;
        if got != n {
            return Err("a cut section");
        }
        self.left -= n;
        Ok(())
    }
}

/// The offsets of `task_struct`'s `pid`, `tgid` and `se.sum_exec_runtime`; an error says
/// what is missing. BTF is little-endian here (the machine's order, like the kernel's, on
/// the little-endian hosts vitals is built for).
pub fn task_offsets<R: Read + Seek>(mut r: R) -> Result<TaskOffsets, &'static str> {
    let mut h = [0u8; 24];
    r.read_exact(&mut h).map_err(|_| "short header")?;
    if u16::from_le_bytes([h[0], h[1]]) != MAGIC {
        return Err("not BTF (bad magic)");
    }
    let field = |at: usize| u64::from(u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]));
    let (hdr_len, type_off, type_len, str_off, str_len) =
        (field(4), field(8), field(12), field(16), field(20));
    let names = find_names(&mut r, hdr_len + str_off, str_len)?;
    r.seek(SeekFrom::Start(hdr_len + type_off))
        .map_err(|_| "type section out of bounds")?;
    let mut s = Stream {
        r: io::BufReader::with_capacity(16 << 10, r),
        left: type_len,
    };
    let want = |i: usize| names[i].ok_or("a field name missing");
    let (task, pid, tgid, se, entity, runtime) = (
        want(TASK)?,
        want(PID)?,
        want(TGID)?,
        want(SE)?,
        want(ENTITY)?,
        want(RUNTIME)?,
    );
    // Bit offsets of pid, tgid, and se with its type id; sched_entity structs by type id
    // with their sum_exec_runtime's bit offset.
    let (mut pid_at, mut tgid_at, mut se_at) = (None, None, None);
    let mut entities: Vec<(u32, u32)> = Vec::new();
    let mut id = 0u32;
    while s.left > 0 {
        id += 1;
        let name_off = s.u32()?;
        let info = s.u32()?;
        let _size = s.u32()?;
        let kind = (info >> 24) & 0x1f;
        let vlen = u64::from(info & 0xffff);
        let extra = match kind {
            KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
            KIND_ARRAY => 12,
            KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
            KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
            k if k > KIND_MAX => return Err("a type of unknown kind"),
            _ => 0,
        };
        let wanted = kind == KIND_STRUCT && (name_off == task || name_off == entity);
        if !wanted {
            s.skip(extra)?;
            continue;
        }
        for _ in 0..vlen {
            let (m, ty, bits) = (s.u32()?, s.u32()?, s.u32()? & 0xff_ffff);
            if name_off == task {
                match m {
                    m if m == pid => pid_at = Some(bits),
                    m if m == tgid => tgid_at = Some(bits),
                    m if m == se => se_at = Some((ty, bits)),
                    _ => {}
                }
            } else if m == runtime {
                entities.push((id, bits));
            }
        }
    }
    let byte = |bits: u32| bits.is_multiple_of(8).then_some(bits / 8);
    let pid = pid_at.ok_or("no task_struct.pid")?;
    let tgid = tgid_at.ok_or("no task_struct.tgid")?;
    let (se_type, se) = se_at.ok_or("no task_struct.se")?;
    let (_, runtime) = entities
        .iter()
        .find(|&&(id, _)| id == se_type)
        .ok_or("no se.sum_exec_runtime")?;
    match (byte(pid), byte(tgid), byte(se), byte(*runtime)) {
        (Some(pid), Some(tgid), Some(se), Some(runtime)) => Ok(TaskOffsets {
            pid,
            tgid,
            runtime: se.checked_add(runtime).ok_or("bad offsets")?,
        }),
        _ => Err("a field off a byte boundary"),
    }
}

/// The offsets of the wanted names in the string section at `start`, `len` bytes long.
fn find_names<R: Read + Seek>(r: &mut R, start: u64, len: u64) -> Result<Names, &'static str> {
    r.seek(SeekFrom::Start(start))
        .map_err(|_| "string section out of bounds")?;
    let mut s = io::BufReader::with_capacity(16 << 10, r.take(len));
    let mut names: Names = [None; 6];
    let mut name = Vec::new();
    let mut at = 0u64;
    while at < len {
        name.clear();
        let n = s
            .read_until(0, &mut name)
            .map_err(|_| "string section out of bounds")?;
        if n == 0 {
            return Err("string section out of bounds");
        }
        let text = name.strip_suffix(&[0]).unwrap_or(&name);
        if let Some(i) = WANTED.iter().position(|w| *w == text) {
            names[i].get_or_insert(u32::try_from(at).map_err(|_| "bad offsets")?);
        }
        at += n as u64;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BTF of `tests/fixtures/btf/task.btf`, built here: an int, a pointer, `struct
    /// sched_entity { u64 sum_exec_runtime at 40 }`, an enum, `struct task_struct { ...,
    /// pid at 1264, tgid at 1268, se at 192 }`.
    pub(crate) fn sample() -> Vec<u8> {
        const STRINGS: &[u8] =
            b"\0int\0sched_entity\0vruntime\0sum_exec_runtime\0task_struct\0pid\0tgid\0se\0state\0e\0";
        let off = |s: &str| {
            let needle = [b"\0", s.as_bytes(), b"\0"].concat();
            STRINGS
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap() as u32
                + 1
        };
        let mut t = Vec::new();
        let mut ty = |name: u32, kind: u32, vlen: u32, size: u32, body: &[u32]| {
            for v in [name, (kind << 24) | vlen, size].iter().chain(body) {
                t.extend_from_slice(&v.to_le_bytes());
            }
        };
        // 1: int (4 bytes, 32 bits).
        ty(off("int"), KIND_INT, 0, 4, &[32]);
        // 2: a pointer to 1.
        ty(0, 2, 0, 1, &[]);
        // 3: struct sched_entity.
        let entity = [off("vruntime"), 1, 0, off("sum_exec_runtime"), 1, 40 * 8];
        ty(off("sched_entity"), KIND_STRUCT, 2, 200, &entity);
        // 4: an enum of one value.
        ty(off("e"), KIND_ENUM, 1, 4, &[off("e"), 7]);
        // 5: struct task_struct.
        let task = [
            off("state"),
            1,
            0,
            off("se"),
            3,
            192 * 8,
            off("pid"),
            1,
            1264 * 8,
            off("tgid"),
            1,
            1268 * 8,
        ];
        ty(off("task_struct"), KIND_STRUCT, 4, 4000, &task);
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        for v in [
            24u32,
            0,
            t.len() as u32,
            t.len() as u32,
            STRINGS.len() as u32,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&t);
        b.extend_from_slice(STRINGS);
        b
    }

    #[test]
    fn the_offsets_of_a_tasks_ids_and_runtime() {
        assert_eq!(
            task_offsets(io::Cursor::new(sample())),
            Ok(TaskOffsets {
                pid: 1264,
                tgid: 1268,
                runtime: 232
            })
        );
    }

    /// The fuzz target's seed (fuzz/seeds.txt); `UPDATE_GOLDEN=1` writes it.
    #[test]
    fn the_file_in_the_fixtures_is_the_sample() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/btf/task.btf");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(path, sample()).unwrap();
        }
        assert_eq!(std::fs::read(path).unwrap(), sample());
    }

    #[test]
    fn damaged_btf_is_an_error() {
        let b = sample();
        let parse = |b: &[u8]| task_offsets(io::Cursor::new(b.to_vec()));
        assert_eq!(parse(&b[..10]), Err("short header"));
        assert_eq!(parse(&[0; 24]), Err("not BTF (bad magic)"));
        assert_eq!(
            parse(&b[..b.len() - 20]),
            Err("string section out of bounds")
        );
        let mut cut = b.clone();
        // The type section claims more than it holds.
        cut[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(parse(&cut).is_err());
        // A name missing from the strings.
        let mut renamed = b.clone();
        let at = renamed.windows(5).position(|w| w == b"\0tgid").unwrap();
        renamed[at + 1] = b'x';
        assert_eq!(parse(&renamed), Err("a field name missing"));
    }

    #[test]
    fn the_running_kernels_btf_when_there_is_one() {
        let Ok(f) = std::fs::File::open("/sys/kernel/btf/vmlinux") else {
            return;
        };
        let o = task_offsets(f).unwrap();
        assert_eq!(o.tgid, o.pid + 4, "{o:?}");
    }
}
