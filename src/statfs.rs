//! statvfs(2) in a helper process, so that a mount whose server died never keeps vitals
//! from exiting.
//!
//! A statvfs on a dead NFS, CIFS or FUSE server blocks in the kernel, often uninterruptibly:
//! once a FUSE request has reached its server, only the server's answer or an abort of the
//! connection ends the wait, not even SIGKILL. A thread blocked there keeps its whole process
//! from being reaped (the leader turns zombie and `waitpid` does not return), so a service
//! manager stopping vitals would hang with it. vitals therefore never calls statvfs itself:
//! a helper process does, and a helper that does not answer in time is abandoned, blocked in
//! a process of its own that holds nothing of the daemon.
//!
//! # The helper
//!
//! The helper is vitals itself, run as `vitals statfs-helper` (a subcommand hidden from
//! `--help`) and started from `/proc/self/exe`: the daemon's own process's link to the very
//! file it runs (this process's procfs, not the host's, so no `HostPaths` root applies), so
//! the helper is always the same build, even after a package upgrade replaced or deleted
//! the file on disk. Its argv[0] is the daemon's path ([`std::env::current_exe`]), so `ps`
//! shows `vitals statfs-helper`. The hello below still checks the protocol. Each failure to
//! start one is counted (see [`Outcome::NoHelper`]).
//!
//! Its standard input and output are pipes to the daemon, its standard error is /dev/null and
//! its working directory `/`, so a helper left blocked pins nothing the daemon uses; Rust
//! opens every other descriptor close-on-exec, so it holds none of the daemon's sockets.
//!
//! # Protocol
//!
//! Integers are little-endian. Once, at start, the helper writes the 8 bytes [`HELLO`]. Then
//! the daemon sends one request at a time and waits for its answer before the next, so a
//! helper is blocked on at most one path and nothing else is queued behind it:
//!
//! - request: a `u32` length, then that many bytes: the path as the kernel's bytes (not
//!   UTF-8 necessarily), at most [`MAX_PATH`] of them.
//! - answer: a `u32` length, then that many bytes: a tag and its payload, either
//!   - `0` and 11 `u64`: `f_bsize f_frsize f_blocks f_bfree f_bavail f_files f_ffree
//!     f_favail f_fsid f_flag f_namemax`, or
//!   - `1` and an `i32`: the errno statvfs failed with.
//!
//! The helper exits when its input ends (the daemon dropped it or exited) or when writing
//! an answer fails (the daemon abandoned it while it was blocked).
//!
//! # The pool
//!
//! [`StatfsPool`] keeps one long-lived helper that serves every tick, and the helpers left
//! behind, each under the path it is blocked on. A path whose helper is still blocked is not
//! asked again ([`Outcome::Stuck`]); when that helper exits (its statvfs returned), a
//! non-blocking `try_wait` at the next call reaps it and the path is asked again. So a dead
//! mount costs at most one blocked process however many ticks pass, and however often the
//! filesystem collector is rebuilt, as long as every collector uses the same pool. Nothing
//! ever waits for a helper: not `Drop`, not shutdown; one still blocked when vitals exits is
//! left to init.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, BufReader, PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{StatVfs, StatVfsMountFlags};

/// The subcommand that runs the helper.
pub const HELPER_COMMAND: &str = "statfs-helper";

/// What a helper writes first: the protocol and its version.
pub const HELLO: &[u8; 8] = b"vstatfs1";

/// The longest path a request carries; mount points are at most PATH_MAX (4096) bytes, and
/// a request this size always fits in an empty pipe, so sending one never blocks.
pub const MAX_PATH: usize = 16 * 1024;

const TAG_STAT: u8 = 0;
const TAG_ERRNO: u8 = 1;
const STAT_FIELDS: usize = 11;
const LONGEST_ANSWER: usize = 1 + STAT_FIELDS * 8;

/// What became of one path's statvfs.
pub enum Outcome {
    Stat(StatVfs),
    /// statvfs failed with this errno.
    Failed(io::Error),
    /// A helper is blocked on this path: it did not answer within the timeout, in this call
    /// or an earlier one, and has not exited since.
    Stuck,
    /// No helper could be asked: none could be started, or it exited while asked.
    NoHelper(HelperError),
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // rustix's StatVfs has no Debug.
            Outcome::Stat(st) => f
                .debug_struct("Stat")
                .field("f_blocks", &st.f_blocks)
                .field("f_bavail", &st.f_bavail)
                .finish_non_exhaustive(),
            Outcome::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            Outcome::Stuck => f.write_str("Stuck"),
            Outcome::NoHelper(e) => f.debug_tuple("NoHelper").field(e).finish(),
        }
    }
}

/// Why no helper answered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HelperError {
    #[error("finding vitals' own executable to start the statfs helper: {0}")]
    CurrentExe(String),
    #[error("starting the statfs helper {program}: {error}")]
    Spawn { program: String, error: String },
    #[error("the statfs helper {0}")]
    Lost(String),
}

/// The statvfs helpers: one serving, and those left blocked, by path. Made once and shared
/// by every filesystem collector, so that a rebuilt collector knows which mounts still hold
/// a blocked helper.
pub struct StatfsPool {
    launcher: Launcher,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The helper that answers requests, once one was started.
    live: Option<Helper>,
    /// Helpers that did not answer in time, by the path they are blocked on.
    stuck: HashMap<PathBuf, Worker>,
    /// Helpers that failed or were told to stop, until they are reaped.
    ended: Vec<Worker>,
}

impl Default for StatfsPool {
    fn default() -> Self {
        Self::new()
    }
}

impl StatfsPool {
    /// Helpers started from this executable ([`std::env::current_exe`]): the daemon's pool.
    pub fn new() -> StatfsPool {
        Self::with_launcher(Launcher::Program(None))
    }

    /// Helpers started from another vitals binary: for tests and benches, whose own
    /// executable has no `statfs-helper` subcommand.
    pub fn with_program(program: impl Into<PathBuf>) -> StatfsPool {
        Self::with_launcher(Launcher::Program(Some(program.into())))
    }

    /// Helpers on threads of this process serving through pipes with the given statvfs, so
    /// unit tests can make a path block.
    #[cfg(test)]
    pub(crate) fn in_process(statvfs: StatvfsFn) -> StatfsPool {
        Self::with_launcher(Launcher::Thread(statvfs))
    }

    fn with_launcher(launcher: Launcher) -> StatfsPool {
        StatfsPool {
            launcher,
            state: Mutex::new(State::default()),
        }
    }

    /// statvfs of each path in turn, each given at most `timeout` (also the limit for a new
    /// helper to say hello). A path that does not answer leaves its helper behind, blocked,
    /// and a new helper serves the rest; so a call takes at most one `timeout` per path that
    /// became stuck in it, and paths stuck before cost nothing.
    pub fn statvfs(&self, paths: &[PathBuf], timeout: Duration) -> Vec<Outcome> {
        // Held for the whole call: two collectors (the old and the new one, around a
        // reload) must never ask a blocked path at the same time.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.reap();
        let mut start_failed: Option<HelperError> = None;
        paths
            .iter()
            .map(|path| {
                if state.stuck.contains_key(path) {
                    return Outcome::Stuck;
                }
                if path.as_os_str().len() > MAX_PATH {
                    return Outcome::Failed(io::Error::from_raw_os_error(
                        rustix::io::Errno::NAMETOOLONG.raw_os_error(),
                    ));
                }
                // One failed start per call: the other paths get the same answer.
                if let Some(e) = &start_failed {
                    return Outcome::NoHelper(e.clone());
                }
                let mut helper = match state.live.take() {
                    Some(helper) => helper,
                    None => match self.launcher.start(&mut state.ended, timeout) {
                        Ok(helper) => helper,
                        Err(e) => {
                            start_failed = Some(e.clone());
                            return Outcome::NoHelper(e);
                        }
                    },
                };
                match helper.ask(path, Instant::now() + timeout) {
                    Ok(outcome) => {
                        state.live = Some(helper);
                        outcome
                    }
                    Err(Failure::Timeout) => {
                        // Dropping its pipes: when the call returns, its answer fails to be
                        // written and it exits.
                        state.stuck.insert(path.clone(), helper.worker);
                        Outcome::Stuck
                    }
                    Err(Failure::Lost(why)) => {
                        let mut worker = helper.worker;
                        let why = match worker.exit_status() {
                            Some(status) => format!("{why} ({status})"),
                            None => why,
                        };
                        state.ended.push(worker);
                        Outcome::NoHelper(HelperError::Lost(why))
                    }
                }
            })
            .collect()
    }

    /// How many helpers are blocked now, as of the last call.
    pub fn stuck(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.stuck.len()
    }
}

impl State {
    /// Forgets the helpers that have exited, reaping them; never waits.
    fn reap(&mut self) {
        self.stuck.retain(|_, worker| !worker.has_ended());
        self.ended.retain_mut(|worker| !worker.has_ended());
        if self.live.as_mut().is_some_and(|h| h.worker.has_ended()) {
            self.live = None;
        }
    }
}

/// A statvfs(2) for the in-process helpers of tests.
pub(crate) type StatvfsFn = fn(&Path) -> rustix::io::Result<StatVfs>;

enum Launcher {
    /// The process `program statfs-helper`; `None` is this executable.
    Program(Option<PathBuf>),
    #[cfg(test)]
    Thread(StatvfsFn),
}

/// Where a helper runs.
enum Worker {
    Process(Child),
    #[cfg(test)]
    Thread(std::thread::JoinHandle<()>),
}

impl Worker {
    /// True once it has exited (a process is reaped by this); never blocks.
    fn has_ended(&mut self) -> bool {
        match self {
            // An error (ECHILD: someone else reaped it) also means it is gone.
            Worker::Process(child) => !matches!(child.try_wait(), Ok(None)),
            #[cfg(test)]
            Worker::Thread(thread) => thread.is_finished(),
        }
    }

    /// How it ended, if it has.
    fn exit_status(&mut self) -> Option<String> {
        match self {
            Worker::Process(child) => child.try_wait().ok().flatten().map(|s| s.to_string()),
            #[cfg(test)]
            Worker::Thread(_) => None,
        }
    }

    /// Ends a helper that is not blocked in statvfs (it misbehaved); does not wait.
    fn kill(&mut self) {
        match self {
            Worker::Process(child) => drop(child.kill()),
            // A test thread ends when its pipes are closed.
            #[cfg(test)]
            Worker::Thread(_) => {}
        }
    }
}

struct Helper {
    worker: Worker,
    requests: PipeWriter,
    answers: PipeReader,
}

/// Why asking a helper gave no answer.
enum Failure {
    Timeout,
    /// It exited, closed its end or broke the protocol.
    Lost(String),
}

impl Launcher {
    /// A new helper that has said hello. One that fails to is killed and left in `ended`.
    fn start(&self, ended: &mut Vec<Worker>, timeout: Duration) -> Result<Helper, HelperError> {
        let (worker, requests, answers) = match self {
            Launcher::Program(program) => {
                let (program, arg0) = match program {
                    Some(p) => (p.clone(), p.clone().into_os_string()),
                    None => {
                        let shown = std::env::current_exe()
                            .map_err(|e| HelperError::CurrentExe(e.to_string()))?;
                        let shown = shown.as_os_str().as_bytes();
                        let shown = shown.strip_suffix(b" (deleted)").unwrap_or(shown);
                        (
                            PathBuf::from("/proc/self/exe"),
                            OsStr::from_bytes(shown).to_os_string(),
                        )
                    }
                };
                let spawn_error = |e: io::Error| HelperError::Spawn {
                    program: crate::host::bytes::escape(program.as_os_str().as_bytes())
                        .into_owned(),
                    error: e.to_string(),
                };
                let mut child = Command::new(&program)
                    .arg0(arg0)
                    .arg(HELPER_COMMAND)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .current_dir("/")
                    .spawn()
                    .map_err(spawn_error)?;
                let pipes = child.stdin.take().zip(child.stdout.take());
                let Some((stdin, stdout)) = pipes else {
                    drop(child.kill());
                    ended.push(Worker::Process(child));
                    return Err(spawn_error(io::Error::other("no pipes")));
                };
                (
                    Worker::Process(child),
                    PipeWriter::from(OwnedFd::from(stdin)),
                    PipeReader::from(OwnedFd::from(stdout)),
                )
            }
            #[cfg(test)]
            Launcher::Thread(statvfs) => {
                let spawn_error = |e: io::Error| HelperError::Spawn {
                    program: "(thread)".into(),
                    error: e.to_string(),
                };
                let (req_out, req_in) = io::pipe().map_err(spawn_error)?;
                let (ans_out, ans_in) = io::pipe().map_err(spawn_error)?;
                let statvfs = *statvfs;
                let thread = std::thread::Builder::new()
                    .name("vitals-statfs-test".into())
                    .spawn(move || drop(serve(req_out, ans_in, statvfs)))
                    .map_err(spawn_error)?;
                (Worker::Thread(thread), req_in, ans_out)
            }
        };
        let mut helper = Helper {
            worker,
            requests,
            answers,
        };
        let mut hello = [0u8; HELLO.len()];
        let said = read_exact_by(&mut helper.answers, &mut hello, Instant::now() + timeout);
        let why = match said {
            Ok(()) if &hello == HELLO => return Ok(helper),
            Ok(()) => "does not speak this protocol (an older or newer vitals?)".to_string(),
            Err(Failure::Timeout) => format!("did not start within {timeout:?}"),
            Err(Failure::Lost(why)) => why,
        };
        helper.worker.kill();
        ended.push(helper.worker);
        Err(HelperError::Lost(why))
    }
}

impl Helper {
    fn ask(&mut self, path: &Path, deadline: Instant) -> Result<Outcome, Failure> {
        let bytes = path.as_os_str().as_bytes();
        let mut request = Vec::with_capacity(4 + bytes.len());
        // MAX_PATH is far below u32::MAX, checked by the caller.
        request.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        request.extend_from_slice(bytes);
        self.requests
            .write_all(&request)
            .map_err(|e| Failure::Lost(format!("did not take a request: {e}")))?;
        let mut len = [0u8; 4];
        read_exact_by(&mut self.answers, &mut len, deadline)?;
        let len = u32::from_le_bytes(len) as usize;
        if len == 0 || len > LONGEST_ANSWER {
            return Err(self.broken(format!("sent an answer of {len} bytes")));
        }
        let mut answer = [0u8; LONGEST_ANSWER];
        read_exact_by(&mut self.answers, &mut answer[..len], deadline)?;
        decode(&answer[..len]).ok_or_else(|| self.broken("sent a malformed answer".into()))
    }

    /// A helper that broke the protocol is not blocked in statvfs: it is killed.
    fn broken(&mut self, why: String) -> Failure {
        self.worker.kill();
        Failure::Lost(why)
    }
}

/// Reads exactly `buf.len()` bytes unless `deadline` passes first.
fn read_exact_by(from: &mut PipeReader, buf: &mut [u8], deadline: Instant) -> Result<(), Failure> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout);
        }
        let left = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&*from, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&left)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(Failure::Lost(format!("could not be waited for: {e}"))),
        }
        match from.read(&mut buf[got..]) {
            Ok(0) => return Err(Failure::Lost("exited".into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Lost(format!("could not be read: {e}"))),
        }
    }
    Ok(())
}

fn encode(result: rustix::io::Result<StatVfs>) -> Vec<u8> {
    let mut payload = Vec::with_capacity(LONGEST_ANSWER);
    match result {
        Ok(st) => {
            payload.push(TAG_STAT);
            for field in [
                st.f_bsize,
                st.f_frsize,
                st.f_blocks,
                st.f_bfree,
                st.f_bavail,
                st.f_files,
                st.f_ffree,
                st.f_favail,
                st.f_fsid,
                st.f_flag.bits(),
                st.f_namemax,
            ] {
                payload.extend_from_slice(&field.to_le_bytes());
            }
        }
        Err(errno) => {
            payload.push(TAG_ERRNO);
            payload.extend_from_slice(&errno.raw_os_error().to_le_bytes());
        }
    }
    let mut answer = Vec::with_capacity(4 + payload.len());
    answer.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    answer.extend_from_slice(&payload);
    answer
}

fn decode(answer: &[u8]) -> Option<Outcome> {
    let (&tag, payload) = answer.split_first()?;
    match tag {
        TAG_STAT if payload.len() == STAT_FIELDS * 8 => {
            let mut f = payload
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()));
            let mut next = || f.next().unwrap_or_default();
            Some(Outcome::Stat(StatVfs {
                f_bsize: next(),
                f_frsize: next(),
                f_blocks: next(),
                f_bfree: next(),
                f_bavail: next(),
                f_files: next(),
                f_ffree: next(),
                f_favail: next(),
                f_fsid: next(),
                f_flag: StatVfsMountFlags::from_bits_retain(next()),
                f_namemax: next(),
            }))
        }
        TAG_ERRNO => {
            let errno = i32::from_le_bytes(payload.try_into().ok()?);
            Some(Outcome::Failed(io::Error::from_raw_os_error(errno)))
        }
        _ => None,
    }
}

/// The helper's loop: hello, then answers each request until the input ends.
pub fn serve(input: impl Read, mut output: impl Write, statvfs: StatvfsFn) -> io::Result<()> {
    let mut input = BufReader::new(input);
    output.write_all(HELLO)?;
    output.flush()?;
    let mut path = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            other => other?,
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_PATH {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a path of {len} bytes"),
            ));
        }
        path.resize(len, 0);
        input.read_exact(&mut path)?;
        let answer = encode(statvfs(Path::new(OsStr::from_bytes(&path))));
        // One write: the daemon never sees half an answer from a live helper.
        output.write_all(&answer)?;
        output.flush()?;
    }
}

/// `vitals statfs-helper`: serves statvfs on standard input and output.
pub fn helper_main() -> ExitCode {
    // Unbuffered descriptors: std's stdout would split an answer at its newline bytes.
    let (Ok(input), Ok(output)) = (
        io::stdin().as_fd().try_clone_to_owned(),
        io::stdout().as_fd().try_clone_to_owned(),
    ) else {
        return ExitCode::FAILURE;
    };
    let statvfs: StatvfsFn = |path| rustix::fs::statvfs(path);
    match serve(
        std::fs::File::from(input),
        std::fs::File::from(output),
        statvfs,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn real(path: &Path) -> rustix::io::Result<StatVfs> {
        rustix::fs::statvfs(path)
    }

    #[test]
    fn answers_round_trip() {
        let st = rustix::fs::statvfs("/").unwrap();
        let answer = encode(rustix::fs::statvfs("/"));
        assert_eq!(answer.len(), 4 + LONGEST_ANSWER);
        let Some(Outcome::Stat(back)) = decode(&answer[4..]) else {
            panic!("not a stat");
        };
        assert_eq!(
            (back.f_blocks, back.f_bavail, back.f_flag, back.f_namemax),
            (st.f_blocks, st.f_bavail, st.f_flag, st.f_namemax)
        );
        let answer = encode(Err(rustix::io::Errno::NOTCONN));
        let Some(Outcome::Failed(e)) = decode(&answer[4..]) else {
            panic!("not an errno");
        };
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::NOTCONN.raw_os_error())
        );
        assert!(decode(&[]).is_none());
        assert!(decode(&[TAG_STAT, 1, 2]).is_none());
        assert!(decode(&[7, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn the_helper_loop_serves_requests_until_its_input_ends() {
        let mut input = Vec::new();
        for path in [&b"/"[..], b"/nonexistent-vitals"] {
            input.extend_from_slice(&(path.len() as u32).to_le_bytes());
            input.extend_from_slice(path);
        }
        let mut output = Vec::new();
        serve(&input[..], &mut output, real).unwrap();
        assert_eq!(&output[..8], HELLO);
        let first = &output[8..8 + 4 + LONGEST_ANSWER];
        assert!(matches!(decode(&first[4..]), Some(Outcome::Stat(_))));
        let second = &output[8 + 4 + LONGEST_ANSWER..];
        assert!(
            matches!(decode(&second[4..]), Some(Outcome::Failed(e)) if e.kind() == io::ErrorKind::NotFound)
        );
        // A length beyond MAX_PATH ends the helper.
        let long = ((MAX_PATH + 1) as u32).to_le_bytes();
        assert!(serve(&long[..], &mut Vec::new(), real).is_err());
    }

    static RELEASE: AtomicBool = AtomicBool::new(false);
    static HUNG_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn hanging(path: &Path) -> rustix::io::Result<StatVfs> {
        if path.ends_with("hung") {
            HUNG_CALLS.fetch_add(1, Ordering::SeqCst);
            while !RELEASE.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        rustix::fs::statvfs("/")
    }

    #[test]
    fn a_blocked_path_keeps_one_helper_until_it_returns() {
        let pool = StatfsPool::in_process(hanging);
        let paths = [
            PathBuf::from("/a"),
            PathBuf::from("/hung"),
            PathBuf::from("/b"),
        ];
        let timeout = Duration::from_millis(100);
        for _ in 0..4 {
            let out = pool.statvfs(&paths, timeout);
            assert!(matches!(out[0], Outcome::Stat(_)), "{out:?}");
            assert!(matches!(out[1], Outcome::Stuck), "{out:?}");
            assert!(matches!(out[2], Outcome::Stat(_)), "{out:?}");
            assert_eq!(pool.stuck(), 1);
        }
        assert_eq!(
            HUNG_CALLS.load(Ordering::SeqCst),
            1,
            "asked once, not per call"
        );
        RELEASE.store(true, Ordering::SeqCst);
        let end = Instant::now() + Duration::from_secs(5);
        while pool.stuck() > 0 {
            assert!(Instant::now() < end, "the released helper was never reaped");
            pool.statvfs(&[], timeout);
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = pool.statvfs(&paths, timeout);
        assert!(out.iter().all(|o| matches!(o, Outcome::Stat(_))), "{out:?}");
        assert_eq!(HUNG_CALLS.load(Ordering::SeqCst), 2);
    }

    fn panicking(path: &Path) -> rustix::io::Result<StatVfs> {
        if path.ends_with("boom") {
            panic!("the helper dies while asked");
        }
        rustix::fs::statvfs("/")
    }

    #[test]
    fn a_helper_that_dies_while_asked_fails_that_path_and_is_replaced() {
        let pool = StatfsPool::in_process(panicking);
        let paths = [
            PathBuf::from("/a"),
            PathBuf::from("/boom"),
            PathBuf::from("/b"),
        ];
        let out = pool.statvfs(&paths, Duration::from_secs(5));
        assert!(matches!(out[0], Outcome::Stat(_)), "{out:?}");
        assert!(
            matches!(&out[1], Outcome::NoHelper(HelperError::Lost(why)) if why == "exited"),
            "{out:?}"
        );
        assert!(matches!(out[2], Outcome::Stat(_)), "{out:?}");
        assert_eq!(pool.stuck(), 0);
    }

    #[test]
    fn a_helper_that_cannot_start_is_reported_once_per_path() {
        let pool = StatfsPool::with_program("/nonexistent/vitals");
        let out = pool.statvfs(
            &[PathBuf::from("/"), PathBuf::from("/x")],
            Duration::from_secs(1),
        );
        assert_eq!(out.len(), 2);
        for o in &out {
            assert!(
                matches!(o, Outcome::NoHelper(HelperError::Spawn { .. })),
                "{out:?}"
            );
        }
    }

    #[test]
    fn a_program_that_is_not_a_helper_is_refused() {
        // `true` exits at once: no hello.
        let pool = StatfsPool::with_program("/bin/true");
        let out = pool.statvfs(&[PathBuf::from("/")], Duration::from_secs(2));
        assert!(
            matches!(&out[0], Outcome::NoHelper(HelperError::Lost(why)) if why.contains("exited")),
            "{out:?}"
        );
    }
}
