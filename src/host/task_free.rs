//! A task's final CPU clock, as the kernel frees it: the eBPF program vitals attaches to the
//! `sched_process_free` raw tracepoint, and the records it writes.
//!
//! The tracepoint runs when the kernel frees a task's `task_struct`, after the task ended,
//! tore down its memory and files and was reaped: its `se.sum_exec_runtime` (the scheduler's
//! clock, which /proc/<pid>/stat's utime + stime are scaled to and the taskstats record's
//! `cpu_run_real_total` is a reading of) is final. The program copies the task's pid, tgid
//! and that clock into a ring buffer map, 16 bytes a task, and does nothing else. The
//! offsets come from the kernel's BTF ([`super::btf`]), so one program fits every kernel
//! that has BTF.
//!
//! The instructions follow the kernel's Documentation/bpf/standardization/
//! instruction-set.rst; the program is checked by the kernel's verifier at load.

use super::btf::TaskOffsets;

/// Bytes of one record: pid, tgid (u32 each), runtime ns (u64), in the machine's order.
pub const RECORD: usize = 16;

/// One freed task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freed {
    pub pid: u32,
    pub tgid: u32,
    pub runtime_ns: u64,
}

/// A record as the program wrote it; None when short.
pub fn parse_record(b: &[u8]) -> Option<Freed> {
    Some(Freed {
        pid: u32::from_ne_bytes(b.get(0..4)?.try_into().ok()?),
        tgid: u32::from_ne_bytes(b.get(4..8)?.try_into().ok()?),
        runtime_ns: u64::from_ne_bytes(b.get(8..16)?.try_into().ok()?),
    })
}

/// Helper numbers (include/uapi/linux/bpf.h).
const PROBE_READ_KERNEL: i32 = 113;
const RINGBUF_OUTPUT: i32 = 130;
/// `src` of a 64-bit immediate load that names a map by descriptor.
const PSEUDO_MAP_FD: u8 = 1;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut i = [0u8; 8];
    i[0] = code;
    i[1] = (src << 4) | (dst & 0x0f);
    i[2..4].copy_from_slice(&off.to_le_bytes());
    i[4..8].copy_from_slice(&imm.to_le_bytes());
    i
}

// Opcodes: class | size/source | operation.
const LDX_DW: u8 = 0x79; // r_dst = *(u64 *)(r_src + off)
const MOV64_REG: u8 = 0xbf;
const MOV64_IMM: u8 = 0xb7;
const ADD64_IMM: u8 = 0x07;
const CALL: u8 = 0x85;
const LD_IMM64: u8 = 0x18;
const EXIT: u8 = 0x95;

/// The program, for a ring buffer map of descriptor `map_fd`. With r1 the tracepoint's
/// arguments (the first the task):
///
/// ```text
/// r6 = task
/// probe_read_kernel(fp - 8, 8, r6 + runtime)       the clock
/// probe_read_kernel(fp - 16, 4, r6 + pid)          pid, then tgid
/// probe_read_kernel(fp - 12, 4, r6 + tgid)
/// ringbuf_output(map, fp - 16, 16, 0)
/// return 0
/// ```
pub fn program(o: &TaskOffsets, map_fd: i32) -> Vec<u8> {
    let (Ok(runtime), Ok(pid), Ok(tgid)) = (
        i32::try_from(o.runtime),
        i32::try_from(o.pid),
        i32::try_from(o.tgid),
    ) else {
        return Vec::new();
    };
    let read = |at: i16, len: i32, off: i32| {
        [
            insn(MOV64_REG, 1, 10, 0, 0),
            insn(ADD64_IMM, 1, 0, 0, i32::from(at)),
            insn(MOV64_IMM, 2, 0, 0, len),
            insn(MOV64_REG, 3, 6, 0, 0),
            insn(ADD64_IMM, 3, 0, 0, off),
            insn(CALL, 0, 0, 0, PROBE_READ_KERNEL),
        ]
    };
    let mut p = vec![insn(LDX_DW, 6, 1, 0, 0)];
    p.extend(read(-8, 8, runtime));
    p.extend(read(-16, 4, pid));
    p.extend(read(-12, 4, tgid));
    p.extend([
        insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map_fd),
        insn(0, 0, 0, 0, 0),
        insn(MOV64_REG, 2, 10, 0, 0),
        insn(ADD64_IMM, 2, 0, 0, -16),
        insn(MOV64_IMM, 3, 0, 0, RECORD as i32),
        insn(MOV64_IMM, 4, 0, 0, 0),
        insn(CALL, 0, 0, 0, RINGBUF_OUTPUT),
        insn(MOV64_IMM, 0, 0, 0, 0),
        insn(EXIT, 0, 0, 0, 0),
    ]);
    p.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_pid_tgid_and_the_clock() {
        let mut b = 7u32.to_ne_bytes().to_vec();
        b.extend_from_slice(&5u32.to_ne_bytes());
        b.extend_from_slice(&3_400_000u64.to_ne_bytes());
        assert_eq!(
            parse_record(&b),
            Some(Freed {
                pid: 7,
                tgid: 5,
                runtime_ns: 3_400_000
            })
        );
        assert_eq!(parse_record(&b[..15]), None);
    }

    #[test]
    fn the_program_reads_the_offsets_it_is_given_and_names_the_map() {
        let o = TaskOffsets {
            pid: 1264,
            tgid: 1268,
            runtime: 232,
        };
        let p = program(&o, 9);
        assert_eq!(p.len() % 8, 0);
        let insns: Vec<&[u8]> = p.chunks(8).collect();
        assert_eq!(insns.len(), 1 + 3 * 6 + 9);
        let imm = |i: &[u8]| i32::from_le_bytes(i[4..8].try_into().unwrap());
        // The three reads add the offsets to the task pointer.
        let adds: Vec<i32> = insns
            .iter()
            .filter(|i| i[0] == ADD64_IMM && i[1] & 0x0f == 3)
            .map(|i| imm(i))
            .collect();
        assert_eq!(adds, [232, 1264, 1268]);
        let map = insns.iter().find(|i| i[0] == LD_IMM64).unwrap();
        assert_eq!((map[1] >> 4, imm(map)), (PSEUDO_MAP_FD, 9));
        assert_eq!(insns.last().unwrap()[0], EXIT);
    }
}
