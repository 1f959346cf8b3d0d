//! Linux taskstats over generic netlink (Documentation/accounting/taskstats.rst): the two
//! requests a listener sends (resolve the `TASKSTATS` family id, register for exit records
//! on a cpu list) and the parser of what it receives.
//!
//! The kernel sends one `TASKSTATS_CMD_NEW` message per exiting task (thread). It holds a
//! `TASKSTATS_TYPE_AGGR_PID` nest (the task's id and its own `struct taskstats`) and, when
//! the last thread of a thread group that ever had several exits, a second
//! `TASKSTATS_TYPE_AGGR_TGID` nest with the group's sum (on current kernels the CPU times
//! and context switches of all its exited threads, but no faults or I/O). Summing the
//! per-task records counts every thread once; adding the group's sum would count its
//! threads twice, so [`parse_datagram`] returns the per-task records only.
//!
//! `struct taskstats` grows by appending fields and bumping its `version`; fields are read
//! at their fixed offsets, and a struct too short for a field (an older kernel) leaves the
//! record out rather than guessing: [`MIN_VERSION`] is the first version with the thread
//! group id. Longer structs (newer kernels) are fine.

use super::ParseError;

/// `GENL_ID_CTRL`, the generic netlink controller.
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const TASKSTATS_CMD_GET: u8 = 1;
const TASKSTATS_CMD_NEW: u8 = 2;
const TASKSTATS_CMD_ATTR_REGISTER_CPUMASK: u16 = 3;
const TASKSTATS_TYPE_STATS: u16 = 3;
const TASKSTATS_TYPE_AGGR_PID: u16 = 4;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
/// Netlink header (16) and generic netlink header (4).
const HEADERS: usize = 20;
/// The attribute type's flag bits (nested, byte order).
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The first `struct taskstats` version with `ac_tgid` (and the AGROUP flag).
pub const MIN_VERSION: u16 = 12;

/// Offsets in `struct taskstats` (include/uapi/linux/taskstats.h).
mod off {
    pub const VERSION: usize = 0;
    pub const EXITCODE: usize = 4;
    pub const FLAG: usize = 8;
    /// cpu_run_virtual_total: the scheduler's runtime (sum_exec_runtime), ns.
    pub const RUN_NS: usize = 72;
    pub const COMM: usize = 80;
    pub const COMM_LEN: usize = 32;
    pub const UID: usize = 120;
    pub const PID: usize = 128;
    pub const PPID: usize = 132;
    pub const BTIME: usize = 136;
    pub const UTIME: usize = 152;
    pub const STIME: usize = 160;
    pub const MINFLT: usize = 168;
    pub const MAJFLT: usize = 176;
    pub const READ_CHAR: usize = 216;
    pub const WRITE_CHAR: usize = 224;
    pub const READ_SYSCALLS: usize = 232;
    pub const WRITE_SYSCALLS: usize = 240;
    pub const READ_BYTES: usize = 248;
    pub const WRITE_BYTES: usize = 256;
    pub const NVCSW: usize = 272;
    pub const NIVCSW: usize = 280;
    pub const BTIME64: usize = 344;
    pub const TGID: usize = 368;
    /// Bytes needed for every field read.
    pub const END: usize = TGID + 4;
}

/// `ac_flag` bits (include/uapi/linux/acct.h).
const ACORE: u8 = 0x08;
const AXSIG: u8 = 0x10;
const AGROUP: u8 = 0x20;

/// How a task ended, from its wait status (`ac_exitcode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `exit(code)` or a return from main.
    Code(u8),
    /// Killed by this signal.
    Signal(u8),
}

impl Ending {
    pub fn from_status(status: u32) -> Ending {
        match status & 0x7f {
            0 => Ending::Code(((status >> 8) & 0xff) as u8),
            sig => Ending::Signal(sig as u8),
        }
    }
}

/// One exited task's final counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub pid: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub uid: u32,
    comm: [u8; off::COMM_LEN],
    comm_len: u8,
    /// The last thread of its group: the process has ended.
    pub group_dead: bool,
    pub ending: Ending,
    pub core_dumped: bool,
    /// Start time, Unix seconds.
    pub btime: u64,
    /// User and system CPU as the tick sampled them (what /proc/stat sums).
    pub utime_us: u64,
    pub stime_us: u64,
    /// CPU time the scheduler measured, ns (0 without delay accounting): what
    /// /proc/<pid>/stat's utime + stime are scaled to, as psutil reports them.
    pub run_ns: u64,
    pub minflt: u64,
    pub majflt: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub read_chars: u64,
    pub write_chars: u64,
    pub read_syscalls: u64,
    pub write_syscalls: u64,
    pub nvcsw: u64,
    pub nivcsw: u64,
}

impl Exit {
    pub fn comm(&self) -> &[u8] {
        &self.comm[..usize::from(self.comm_len)]
    }

    /// The thread's runtime, us: the scheduler's, else (without delay accounting) the ticked
    /// user + system.
    pub fn run_us(&self) -> u64 {
        match self.run_ns {
            0 => self.utime_us + self.stime_us,
            ns => ns / 1000,
        }
    }

    /// A record for tests elsewhere: `run_us` of runtime, all of it user time.
    #[cfg(test)]
    pub fn for_test(pid: u32, tgid: u32, ppid: u32, run_us: u64, group_dead: bool) -> Exit {
        Exit {
            pid,
            tgid,
            ppid,
            uid: 0,
            comm: [b'x'; off::COMM_LEN],
            comm_len: 1,
            group_dead,
            ending: Ending::Code(0),
            core_dumped: false,
            btime: 0,
            utime_us: run_us,
            stime_us: 0,
            run_ns: run_us * 1000,
            minflt: 0,
            majflt: 0,
            read_bytes: 0,
            write_bytes: 0,
            read_chars: 0,
            write_chars: 0,
            read_syscalls: 0,
            write_syscalls: 0,
            nvcsw: 0,
            nivcsw: 0,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// `struct taskstats` as it arrives; None when it is older than [`MIN_VERSION`] or shorter
/// than its fields.
pub fn parse_taskstats(b: &[u8]) -> Option<Exit> {
    if u16_at(b, off::VERSION)? < MIN_VERSION || b.len() < off::END {
        return None;
    }
    let raw = b.get(off::COMM..off::COMM + off::COMM_LEN)?;
    let len = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    let mut comm = [0; off::COMM_LEN];
    comm[..len].copy_from_slice(&raw[..len]);
    let flag = *b.get(off::FLAG)?;
    let btime = match u64_at(b, off::BTIME64)? {
        0 => u64::from(u32_at(b, off::BTIME)?),
        t => t,
    };
    Some(Exit {
        pid: u32_at(b, off::PID)?,
        tgid: u32_at(b, off::TGID)?,
        ppid: u32_at(b, off::PPID)?,
        uid: u32_at(b, off::UID)?,
        comm,
        comm_len: len as u8,
        group_dead: flag & AGROUP != 0,
        ending: Ending::from_status(u32_at(b, off::EXITCODE)?),
        core_dumped: flag & ACORE != 0 && flag & AXSIG != 0,
        btime,
        utime_us: u64_at(b, off::UTIME)?,
        stime_us: u64_at(b, off::STIME)?,
        run_ns: u64_at(b, off::RUN_NS)?,
        minflt: u64_at(b, off::MINFLT)?,
        majflt: u64_at(b, off::MAJFLT)?,
        read_bytes: u64_at(b, off::READ_BYTES)?,
        write_bytes: u64_at(b, off::WRITE_BYTES)?,
        read_chars: u64_at(b, off::READ_CHAR)?,
        write_chars: u64_at(b, off::WRITE_CHAR)?,
        read_syscalls: u64_at(b, off::READ_SYSCALLS)?,
        write_syscalls: u64_at(b, off::WRITE_SYSCALLS)?,
        nvcsw: u64_at(b, off::NVCSW)?,
        nivcsw: u64_at(b, off::NIVCSW)?,
    })
}

/// Netlink attributes of `b`, as (type without flags, payload); stops at the first that
/// does not fit.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(b, 0)?);
        let kind = u16_at(b, 2)? & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            return None;
        }
        let payload = &b[4..len];
        b = b.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

/// What one netlink message of a datagram was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A task's exit record.
    Exit(Exit),
    /// A taskstats message without a usable record (an older struct, no AGGR_PID nest).
    Unusable,
    /// An acknowledgement (errno 0) or error answering request `seq`.
    Ack { seq: u32, errno: i32 },
    /// Anything else: another family's message, `NLMSG_DONE`, a reply to a request.
    Other,
}

/// Calls `f` with each netlink message of a received datagram from `family` (the taskstats
/// family id). Errs when the datagram is cut (a message longer than what is left).
pub fn parse_datagram(
    mut buf: &[u8],
    family: u16,
    mut f: impl FnMut(Message),
) -> Result<(), ParseError> {
    while !buf.is_empty() {
        let len = u32_at(buf, 0).ok_or_else(|| ParseError("netlink header cut".into()))? as usize;
        if len < 16 || len > buf.len() {
            return Err(ParseError(format!(
                "netlink message of {len} bytes in {} left",
                buf.len()
            )));
        }
        let msg = &buf[..len];
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or(&[]);
        let kind = u16_at(msg, 4).unwrap_or(0);
        let seq = u32_at(msg, 8).unwrap_or(0);
        f(match kind {
            NLMSG_ERROR => Message::Ack {
                seq,
                errno: u32_at(msg, 16).map_or(0, |e| -(e as i32)),
            },
            NLMSG_DONE => Message::Other,
            k if k == family && msg.get(16) == Some(&TASKSTATS_CMD_NEW) => {
                exit_record(&msg[HEADERS.min(msg.len())..])
            }
            _ => Message::Other,
        });
    }
    Ok(())
}

fn exit_record(payload: &[u8]) -> Message {
    attrs(payload)
        .filter(|&(kind, _)| kind == TASKSTATS_TYPE_AGGR_PID)
        .flat_map(|(_, nest)| attrs(nest))
        .find(|&(kind, _)| kind == TASKSTATS_TYPE_STATS)
        .and_then(|(_, stats)| parse_taskstats(stats))
        .map_or(Message::Unusable, Message::Exit)
}

/// The family id in the controller's answer to [`family_request`].
pub fn parse_family_id(buf: &[u8]) -> Result<u16, ParseError> {
    let mut id = None;
    let mut errno = 0;
    parse_datagram(buf, GENL_ID_CTRL, |_| {})?;
    let len = u32_at(buf, 0).unwrap_or(0) as usize;
    let msg = buf.get(..len).unwrap_or(buf);
    match u16_at(msg, 4) {
        Some(NLMSG_ERROR) => errno = u32_at(msg, 16).map_or(0, |e| -(e as i32)),
        Some(GENL_ID_CTRL) => {
            id = attrs(msg.get(HEADERS..).unwrap_or(&[]))
                .find(|&(kind, _)| kind == CTRL_ATTR_FAMILY_ID)
                .and_then(|(_, v)| u16_at(v, 0));
        }
        _ => {}
    }
    id.ok_or_else(|| match errno {
        0 => ParseError("no family id in the controller's answer".into()),
        e => ParseError(format!(
            "the controller answered {}",
            std::io::Error::from_raw_os_error(e)
        )),
    })
}

fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn request(family: u16, flags: u16, seq: u32, cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let len = HEADERS + attrs.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&family.to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[cmd, 1, 0, 0]);
    out.extend_from_slice(attrs);
    out
}

/// `CTRL_CMD_GETFAMILY` for `TASKSTATS`.
pub fn family_request(seq: u32) -> Vec<u8> {
    let mut a = Vec::new();
    attr(&mut a, CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0");
    request(GENL_ID_CTRL, 0, seq, CTRL_CMD_GETFAMILY, &a)
}

/// Registers the sending socket for the exit records of the cpus in `cpulist` ("0-3").
pub fn register_request(family: u16, seq: u32, cpulist: &str) -> Vec<u8> {
    let mut mask = cpulist.as_bytes().to_vec();
    mask.push(0);
    let mut a = Vec::new();
    attr(&mut a, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, &mask);
    request(family, NLM_F_ACK, seq, TASKSTATS_CMD_GET, &a)
}

/// A request the taskstats family answers at once with an error acknowledgement (a
/// `TASKSTATS_CMD_GET` naming no task: EINVAL), queued on the socket behind every record sent
/// before it: received back, it marks where the records sent before it end.
pub fn mark_request(family: u16, seq: u32) -> Vec<u8> {
    request(family, NLM_F_ACK, seq, TASKSTATS_CMD_GET, &[])
}

/// The conventional name of a Linux signal number (`SIGKILL`), or `SIG<n>` (real-time ones).
pub fn signal_name(sig: u8) -> std::borrow::Cow<'static, str> {
    const NAMES: [&str; 32] = [
        "SIG0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match NAMES.get(usize::from(sig)) {
        Some(n) => (*n).into(),
        None => format!("SIG{sig}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `struct taskstats` of `len` bytes with the fields the parser reads.
    fn stats(len: usize, version: u16, pid: u32, tgid: u32, status: u32, flag: u8) -> Vec<u8> {
        let mut b = vec![0u8; len];
        let put = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(&mut b, off::VERSION, &version.to_ne_bytes());
        put(&mut b, off::EXITCODE, &status.to_ne_bytes());
        b[off::FLAG] = flag;
        put(&mut b, off::COMM, b"worker");
        put(&mut b, off::UID, &1000u32.to_ne_bytes());
        put(&mut b, off::PID, &pid.to_ne_bytes());
        put(&mut b, off::PPID, &7u32.to_ne_bytes());
        put(&mut b, off::BTIME, &1_700_000_000u32.to_ne_bytes());
        put(&mut b, off::UTIME, &12_000u64.to_ne_bytes());
        put(&mut b, off::STIME, &4_000u64.to_ne_bytes());
        put(&mut b, off::RUN_NS, &15_500_000u64.to_ne_bytes());
        put(&mut b, off::MINFLT, &65u64.to_ne_bytes());
        put(&mut b, off::READ_CHAR, &3072u64.to_ne_bytes());
        put(&mut b, off::WRITE_BYTES, &4096u64.to_ne_bytes());
        put(&mut b, off::READ_SYSCALLS, &3u64.to_ne_bytes());
        put(&mut b, off::NVCSW, &2u64.to_ne_bytes());
        put(&mut b, off::TGID, &tgid.to_ne_bytes());
        b
    }

    fn nest(kind: u16, id: u32, stats: &[u8]) -> Vec<u8> {
        let mut inner = Vec::new();
        // TASKSTATS_TYPE_PID (1) or _TGID (2) in AGGR_PID (4) or AGGR_TGID (5).
        attr(&mut inner, kind - 3, &id.to_ne_bytes());
        attr(&mut inner, TASKSTATS_TYPE_STATS, stats);
        let mut out = Vec::new();
        attr(&mut out, kind, &inner);
        out
    }

    fn message(family: u16, payload: &[u8]) -> Vec<u8> {
        request(family, 0, 9, TASKSTATS_CMD_NEW, payload)
    }

    fn collect(buf: &[u8]) -> Vec<Message> {
        let mut v = Vec::new();
        parse_datagram(buf, 31, |m| v.push(m)).unwrap();
        v
    }

    #[test]
    fn a_single_threaded_exit_with_code_3() {
        let s = stats(560, 16, 17381, 17381, 3 << 8, AGROUP);
        let msgs = collect(&message(31, &nest(TASKSTATS_TYPE_AGGR_PID, 17381, &s)));
        let [Message::Exit(e)] = msgs[..] else {
            panic!("{msgs:?}")
        };
        assert_eq!((e.pid, e.tgid, e.ppid, e.uid), (17381, 17381, 7, 1000));
        assert_eq!(e.comm(), b"worker");
        assert!(e.group_dead);
        assert_eq!(e.ending, Ending::Code(3));
        assert_eq!((e.utime_us, e.stime_us, e.minflt), (12_000, 4_000, 65));
        assert_eq!(e.run_ns, 15_500_000);
        assert_eq!((e.read_chars, e.write_bytes, e.nvcsw), (3072, 4096, 2));
        assert_eq!((e.read_syscalls, e.write_syscalls), (3, 0));
        // No btime64: the 32-bit btime.
        assert_eq!(e.btime, 1_700_000_000);
    }

    #[test]
    fn the_group_sum_of_a_threaded_process_is_not_a_second_record() {
        let last = stats(560, 16, 11, 10, 9, AGROUP | AXSIG);
        let mut payload = nest(TASKSTATS_TYPE_AGGR_PID, 11, &last);
        payload.extend(nest(
            TASKSTATS_TYPE_AGGR_PID + 1,
            10,
            &stats(560, 16, 0, 0, 0, 0),
        ));
        let msgs = collect(&message(31, &payload));
        let [Message::Exit(e)] = msgs[..] else {
            panic!("{msgs:?}")
        };
        assert_eq!((e.pid, e.tgid), (11, 10));
        assert_eq!(e.ending, Ending::Signal(9));
        assert!(!e.core_dumped);
    }

    #[test]
    fn older_and_shorter_structs_are_unusable_longer_ones_fine() {
        let old = stats(560, 11, 5, 5, 0, 0);
        assert_eq!(
            collect(&message(31, &nest(TASKSTATS_TYPE_AGGR_PID, 5, &old))),
            [Message::Unusable]
        );
        let mut short = stats(560, 16, 5, 5, 0, 0);
        short.truncate(off::END - 1);
        assert!(parse_taskstats(&short).is_none());
        let long = stats(1024, 40, 5, 5, 0, 0);
        assert_eq!(parse_taskstats(&long).map(|e| e.pid), Some(5));
    }

    #[test]
    fn signals_and_core_dumps() {
        assert_eq!(Ending::from_status(0x80 | 11), Ending::Signal(11));
        assert_eq!(Ending::from_status(0), Ending::Code(0));
        assert_eq!(Ending::from_status(255 << 8), Ending::Code(255));
        let e = parse_taskstats(&stats(560, 16, 5, 5, 0x80 | 6, AXSIG | ACORE)).unwrap();
        assert_eq!(e.ending, Ending::Signal(6));
        assert!(e.core_dumped);
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(34), "SIG34");
    }

    #[test]
    fn acks_other_families_and_cut_datagrams() {
        let mut ack = request(NLMSG_ERROR, 0, 4, 0, &[]);
        ack.truncate(16);
        ack.extend_from_slice(&(-1i32).to_ne_bytes());
        ack[..4].copy_from_slice(&20u32.to_ne_bytes());
        let mut buf = ack.clone();
        buf.extend(message(32, &[]));
        assert_eq!(
            collect(&buf),
            [Message::Ack { seq: 4, errno: 1 }, Message::Other]
        );
        let whole = message(31, &nest(4, 1, &stats(560, 16, 1, 1, 0, 0)));
        assert!(parse_datagram(&whole[..whole.len() - 1], 31, |_| {}).is_err());
        assert!(parse_datagram(&[1, 2], 31, |_| {}).is_err());
    }

    #[test]
    fn family_id_from_the_controller() {
        let mut a = Vec::new();
        attr(&mut a, CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0");
        attr(&mut a, CTRL_ATTR_FAMILY_ID, &31u16.to_ne_bytes());
        let answer = request(GENL_ID_CTRL, 0, 1, 1, &a);
        assert_eq!(parse_family_id(&answer).unwrap(), 31);
        let mut err = request(NLMSG_ERROR, 0, 1, 0, &[]);
        err.truncate(16);
        err.extend_from_slice(&(-2i32).to_ne_bytes());
        err[..4].copy_from_slice(&20u32.to_ne_bytes());
        assert!(
            parse_family_id(&err)
                .unwrap_err()
                .0
                .contains("No such file")
        );
    }

    #[test]
    fn requests_have_their_lengths() {
        let r = register_request(31, 2, "0-1");
        assert_eq!(u32_at(&r, 0), Some(r.len() as u32));
        assert_eq!(u16_at(&r, 4), Some(31));
        assert_eq!(&r[24..28], b"0-1\0");
        let f = family_request(1);
        assert_eq!(u32_at(&f, 0), Some(f.len() as u32));
    }

    #[test]
    fn captured_datagrams_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/taskstats");
        let exit3 = std::fs::read(format!("{dir}/exit3.bin")).unwrap();
        let [Message::Exit(e)] = collect(&exit3)[..] else {
            panic!()
        };
        assert_eq!(
            (e.comm(), e.ending, e.group_dead),
            (&b"sh"[..], Ending::Code(3), true)
        );
        let threads = std::fs::read(format!("{dir}/threaded-sigkill.bin")).unwrap();
        let [Message::Exit(e)] = collect(&threads)[..] else {
            panic!()
        };
        assert_ne!(e.pid, e.tgid);
        assert_eq!(e.ending, Ending::Signal(9));
    }
}
