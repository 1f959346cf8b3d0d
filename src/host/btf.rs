//! The kernel's BTF (`/sys/kernel/btf/vmlinux`, the type information of the running kernel):
//! the offsets in `struct task_struct` of the fields [`crate::host::task_free`]'s program
//! reads. Only the type section is walked, and only struct members are looked at; every
//! other kind is skipped by its size (the format: the kernel's Documentation/bpf/btf.rst).

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

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A struct's members: (name offset, type id, bit offset).
struct Struct<'a> {
    name: u32,
    members: &'a [u8],
}

impl Struct<'_> {
    fn members(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        self.members
            .chunks_exact(12)
            .filter_map(|m| Some((u32_at(m, 0)?, u32_at(m, 4)?, u32_at(m, 8)?)))
    }
}

/// The offsets of `task_struct`'s `pid`, `tgid` and `se.sum_exec_runtime`; an error says
/// what is missing. BTF is little-endian here (the machine's order, like the kernel's, on
/// the little-endian hosts vitals is built for).
pub fn task_offsets(b: &[u8]) -> Result<TaskOffsets, &'static str> {
    if u16_at(b, 0) != Some(MAGIC) {
        return Err("not BTF (bad magic)");
    }
    let hdr_len = u32_at(b, 4).ok_or("short header")? as usize;
    let field = |at: usize| u32_at(b, 8 + at).map(|v| v as usize).ok_or("short header");
    let (type_off, type_len, str_off, str_len) = (field(0)?, field(4)?, field(8)?, field(12)?);
    let types = b
        .get(hdr_len.checked_add(type_off).ok_or("bad offsets")?..)
        .and_then(|t| t.get(..type_len))
        .ok_or("type section out of bounds")?;
    let strings = b
        .get(hdr_len.checked_add(str_off).ok_or("bad offsets")?..)
        .and_then(|s| s.get(..str_len))
        .ok_or("string section out of bounds")?;
    let name = |off: u32| -> &[u8] {
        let s = strings.get(off as usize..).unwrap_or_default();
        &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
    };
    // Type ids start at 1; a member's type id indexes `structs` (None: not a struct).
    let mut structs: Vec<Option<Struct>> = vec![None];
    let mut at = 0;
    while at < types.len() {
        let (name_off, info) = (u32_at(types, at), u32_at(types, at + 4));
        let (Some(name_off), Some(info)) = (name_off, info) else {
            return Err("a cut type");
        };
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        at += 12;
        let extra = match kind {
            KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
            KIND_ARRAY => 12,
            KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
            KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
            k if k > KIND_MAX => return Err("a type of unknown kind"),
            _ => 0,
        };
        let body = types.get(at..at + extra).ok_or("a cut type")?;
        structs.push((kind == KIND_STRUCT).then_some(Struct {
            name: name_off,
            members: body,
        }));
        at += extra;
    }
    let member = |s: &Struct, want: &[u8]| {
        s.members()
            .find(|&(n, _, _)| name(n) == want)
            .map(|(_, ty, bits)| {
                // With kind_flag the low 24 bits are the offset; these fields are no bitfields.
                (ty, bits & 0xff_ffff)
            })
    };
    let task = structs
        .iter()
        .flatten()
        .find(|s| name(s.name) == b"task_struct" && member(s, b"se").is_some())
        .ok_or("no struct task_struct")?;
    let byte = |bits: u32| bits.is_multiple_of(8).then_some(bits / 8);
    let (_, pid) = member(task, b"pid").ok_or("no task_struct.pid")?;
    let (_, tgid) = member(task, b"tgid").ok_or("no task_struct.tgid")?;
    let (se_type, se) = member(task, b"se").ok_or("no task_struct.se")?;
    let entity = structs
        .get(se_type as usize)
        .and_then(Option::as_ref)
        .ok_or("task_struct.se is not a struct")?;
    let (_, runtime) = member(entity, b"sum_exec_runtime").ok_or("no se.sum_exec_runtime")?;
    match (byte(pid), byte(tgid), byte(se), byte(runtime)) {
        (Some(pid), Some(tgid), Some(se), Some(runtime)) => Ok(TaskOffsets {
            pid,
            tgid,
            runtime: se.checked_add(runtime).ok_or("bad offsets")?,
        }),
        _ => Err("a field off a byte boundary"),
    }
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
            task_offsets(&sample()),
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
        assert_eq!(task_offsets(&b[..10]), Err("short header"));
        assert_eq!(task_offsets(b"\0\0"), Err("not BTF (bad magic)"));
        assert_eq!(
            task_offsets(&b[..b.len() - 20]),
            Err("string section out of bounds")
        );
        let mut cut = b.clone();
        // The type section claims more than it holds.
        cut[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(task_offsets(&cut).is_err());
    }

    #[test]
    fn the_running_kernels_btf_when_there_is_one() {
        let Ok(b) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            return;
        };
        let o = task_offsets(&b).unwrap();
        assert_eq!(o.tgid, o.pid + 4, "{o:?}");
    }
}
