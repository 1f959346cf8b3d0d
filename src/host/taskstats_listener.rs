//! The taskstats exit-record listener: a thread of its own holding a generic netlink socket
//! registered for the exit records of every cpu, parsing each datagram into [`Exit`]s and
//! queueing them for the processes collector, which drains the queue once a tick.
//!
//! Registration needs CAP_NET_ADMIN, the initial user and pid namespaces and a kernel with
//! CONFIG_TASKSTATS; [`Listener::start`] says which was missing. The kernel drops records
//! when the socket's receive buffer is full and reports it as ENOBUFS at the next receive:
//! each such report counts as one loss (at least one record was lost), and the queue, bounded
//! at [`QUEUE_MAX`] records, counts what it turns away the same way. Losses are cumulative
//! counters; the collector compares them between ticks.
//!
//! [`Listener::mark`] puts a mark in the stream: a request whose answer the kernel queues
//! behind every record already sent, so that [`Listener::drain`] can say which records were
//! sent before the mark (before a process's cutime was read, say) and which after.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_GENERIC};
use nix::libc;
use nix::sys::socket::setsockopt;
use nix::sys::socket::sockopt::{RcvBuf, RcvBufForce, ReceiveTimeout};
use nix::sys::time::TimeVal;

use super::taskstats::{
    Exit, Message, family_request, mark_request, parse_datagram, parse_family_id, register_request,
};

/// Records queued at most between two drains (at 1,000 exits/s, a minute's worth).
pub const QUEUE_MAX: usize = 65_536;
/// The socket's receive buffer: about 4,000 records (each takes ~1 KiB of skb).
const RCVBUF: usize = 4 << 20;
/// A datagram holds one record (two for a thread group's last thread), well under this.
const DATAGRAM: usize = 64 * 1024;
/// How often the thread looks at its stop flag.
const POLL: Duration = Duration::from_secs(1);
/// Marks' sequence numbers start here (1 and 2 are the start's requests).
const MARK_SEQ: u32 = 1 << 16;

/// Why exit records are not available.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the kernel has no taskstats (CONFIG_TASKSTATS): {0}")]
    NoKernelSupport(String),
    #[error("registering for exit records needs CAP_NET_ADMIN in the initial namespaces: {0}")]
    NotPermitted(io::Error),
    /// The kernel refuses registration from a user or pid namespace other than the initial
    /// ones (a container) with EINVAL.
    #[error(
        "registering for exit records needs the initial user and pid namespaces (not a container's): {0}"
    )]
    NotInitialNamespace(io::Error),
    #[error("taskstats netlink socket: {0}")]
    Io(io::Error),
}

/// What [`Listener::drain`] hands over besides the records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Records received since the start (usable or not).
    pub received: u64,
    /// Loss reports since the start: receive-buffer overflows and records the full queue
    /// turned away.
    pub lost: u64,
    /// Messages with no record this version of vitals can read.
    pub unusable: u64,
    /// The thread stopped on a socket error: no more records will come.
    pub stopped: bool,
}

#[derive(Default)]
struct Queue {
    exits: Vec<Exit>,
    totals: Totals,
    /// The last mark received: its sequence number and the number of records queued before it.
    mark: Option<(u32, usize)>,
}

/// The running listener; dropping it stops its thread within [`POLL`].
pub struct Listener {
    queue: Arc<Mutex<Queue>>,
    stop: Arc<AtomicBool>,
    socket: Arc<Socket>,
    family: u16,
    /// The sequence number of the last mark sent.
    mark_seq: AtomicU32,
}

fn timeval(d: Duration) -> TimeVal {
    TimeVal::new(
        libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        libc::suseconds_t::from(d.subsec_micros()),
    )
}

fn recv(socket: &Socket, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    socket.recv(buf, 0)
}

/// Sends `request` and waits for the datagram answering it (records that come first are
/// queued).
fn ask(socket: &Socket, request: &[u8], buf: &mut Vec<u8>) -> io::Result<()> {
    socket.send(request, 0)?;
    recv(socket, buf).map(|_| ())
}

impl Listener {
    /// Opens the socket, resolves the family, registers for `cpulist` (the possible cpus,
    /// as in /sys/devices/system/cpu/possible) and starts the thread.
    pub fn start(cpulist: &str) -> Result<Listener, StartError> {
        let mut socket = Socket::new(NETLINK_GENERIC).map_err(StartError::Io)?;
        socket.bind_auto().map_err(StartError::Io)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(StartError::Io)?;
        // SO_RCVBUFFORCE passes rmem_max with CAP_NET_ADMIN; without it, what rmem_max allows.
        if setsockopt(&socket, RcvBufForce, &RCVBUF).is_err() {
            let _ = setsockopt(&socket, RcvBuf, &RCVBUF);
        }
        setsockopt(&socket, ReceiveTimeout, &timeval(POLL))
            .map_err(|e| StartError::Io(e.into()))?;
        let mut buf = Vec::with_capacity(DATAGRAM);
        ask(&socket, &family_request(1), &mut buf).map_err(StartError::Io)?;
        let family =
            parse_family_id(&buf).map_err(|e| StartError::NoKernelSupport(e.to_string()))?;
        socket
            .send(&register_request(family, 2, cpulist.trim()), 0)
            .map_err(StartError::Io)?;
        let queue = Arc::new(Mutex::new(Queue::default()));
        // The acknowledgement; exit records may come before it.
        loop {
            recv(&socket, &mut buf).map_err(StartError::Io)?;
            let mut answer = None;
            push(&queue, &buf, family, |seq, errno| {
                if seq == 2 {
                    answer = Some(errno);
                }
            });
            match answer {
                Some(0) => break,
                Some(e) if e == libc::EPERM || e == libc::EACCES => {
                    return Err(StartError::NotPermitted(io::Error::from_raw_os_error(e)));
                }
                Some(e) if e == libc::EINVAL => {
                    return Err(StartError::NotInitialNamespace(
                        io::Error::from_raw_os_error(e),
                    ));
                }
                Some(e) => return Err(StartError::Io(io::Error::from_raw_os_error(e))),
                None => {}
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let socket = Arc::new(socket);
        let (q, s, sock) = (Arc::clone(&queue), Arc::clone(&stop), Arc::clone(&socket));
        thread::Builder::new()
            .name("taskstats".into())
            .spawn(move || run(&sock, family, buf, &q, &s))
            .map_err(StartError::Io)?;
        Ok(Listener {
            queue,
            stop,
            socket,
            family,
            mark_seq: AtomicU32::new(MARK_SEQ - 1),
        })
    }

    /// Sends a mark: every record the kernel sent before this call is queued before it.
    pub fn mark(&self) -> io::Result<()> {
        let seq = self
            .mark_seq
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        self.socket
            .send(&mark_request(self.family, seq), 0)
            .map(|_| ())
    }

    /// Moves the queued records into `into` and returns the running totals, and where in
    /// `into` the records sent after the last [`Listener::mark`] begin, once that mark came
    /// back (`None` while it has not: which records came before it is not known).
    pub fn drain(&self, into: &mut Vec<Exit>) -> (Totals, Option<usize>) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = self.mark_seq.load(Ordering::Relaxed);
        let at = match q.mark.take() {
            Some((s, n)) if s == seq => Some(into.len() + n),
            _ => None,
        };
        into.append(&mut q.exits);
        (q.totals, at)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Queues the records of one datagram; `ack` sees acknowledgements.
fn push(queue: &Mutex<Queue>, buf: &[u8], family: u16, mut ack: impl FnMut(u32, i32)) {
    let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
    let q = &mut *q;
    // A cut datagram cannot happen with DATAGRAM bytes to spare; its whole records still count.
    let _ = parse_datagram(buf, family, |m| match m {
        Message::Exit(e) => {
            q.totals.received += 1;
            if q.exits.len() < QUEUE_MAX {
                q.exits.push(e);
            } else {
                q.totals.lost += 1;
            }
        }
        Message::Unusable => {
            q.totals.received += 1;
            q.totals.unusable += 1;
        }
        Message::Ack { seq, errno } => {
            if seq >= MARK_SEQ {
                q.mark = Some((seq, q.exits.len()));
            }
            ack(seq, errno)
        }
        Message::Other => {}
    });
}

fn run(socket: &Socket, family: u16, mut buf: Vec<u8>, queue: &Mutex<Queue>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match recv(socket, &mut buf) {
            Ok(_) => push(queue, &buf, family, |_, _| {}),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .totals
                    .lost += 1;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                tracing::warn!(error = %e, "taskstats listener stopped");
                let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
                q.totals.lost += 1;
                q.totals.stopped = true;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listener, or `None` (with a note) where it cannot start: it needs root in the
    /// initial namespaces.
    fn started() -> Option<Listener> {
        let cpus = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
        Listener::start(&cpus)
            .map_err(|e| eprintln!("taskstats unavailable ({e}); skipped"))
            .ok()
    }

    /// Needs root in the initial namespaces: skipped (with a note) elsewhere.
    #[test]
    fn records_of_a_child_arrive() {
        let Some(listener) = started() else { return };
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .status()
            .unwrap();
        assert_eq!(child.code(), Some(3));
        let mut exits = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !exits.iter().any(|e: &Exit| {
            e.comm() == b"sh"
                && e.group_dead
                && e.ending == super::super::taskstats::Ending::Code(3)
        }) {
            assert!(std::time::Instant::now() < deadline, "{exits:?}");
            listener.drain(&mut exits);
            thread::sleep(Duration::from_millis(20));
        }
        assert!(listener.drain(&mut exits).0.received >= 1);
    }

    /// A child reaped before a mark has its record before the mark's place; needs root.
    #[test]
    fn a_mark_comes_after_the_records_sent_before_it() {
        let Some(listener) = started() else { return };
        let mut exits = Vec::new();
        let mut mark = None;
        for round in 0..3 {
            let child = std::process::Command::new("sh")
                .args(["-c", &format!("exit {}", 40 + round)])
                .status()
                .unwrap();
            assert_eq!(child.code(), Some(40 + round));
            exits.clear();
            listener.mark().unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            mark = None;
            while mark.is_none() {
                assert!(std::time::Instant::now() < deadline, "no mark");
                mark = listener.drain(&mut exits).1;
                thread::sleep(Duration::from_millis(5));
            }
            let at = mark.unwrap();
            let code = super::super::taskstats::Ending::Code(40 + round as u8);
            let i = exits.iter().position(|e| e.group_dead && e.ending == code);
            assert!(i.is_some_and(|i| i < at), "record {i:?}, mark at {at}");
        }
        // A drain after the mark was handed over has no mark until the next one comes back.
        assert!(mark.is_some());
        assert_eq!(listener.drain(&mut exits).1, None);
    }
}
