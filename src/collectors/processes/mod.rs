//! Processes: the system-wide counts (by psutil state, threads, processes created, pid and
//! thread limits) and psutil's `Process` summed per group, from one walk of `/proc` per tick.
//!
//! Each process is matched to a group once, when first seen (again after an exec or a
//! setuid changes its comm or uid), by the first `[[collectors.processes.group]]` rule that
//! matches, else by inheritance from its nearest matched ancestor (`children`), else
//! `unmatched`. With no rule, each comm is a group. Kernel threads are one group, `kernel`.
//! Group counters are sums of their members' increments ([`table`]); a group beyond
//! `max_groups` is folded into `other`; an empty group's series go after `empty_group_ttl`.
//! Optionally the top N processes by CPU and by RSS get series of their own.
//!
//! Per process and tick it reads `stat` (every process), then, for processes in a group,
//! `status`, `io`, the `fd` directory, and `smaps_rollup` when `smaps = true`; `limits` at
//! first sight and every 12th tick; `cmdline` and `cgroup` only when a rule needs them, at
//! first sight. A process that exits mid-read is skipped silently; a file that cannot be read
//! (another user's `io` when vitals is unprivileged) leaves that value out and is counted in
//! `vitals_process_reads_denied_total`, never logged.

mod catalog;
mod detail;
mod exits;
mod export;
pub mod groups;
mod ioprio;
mod reader;
pub mod rules;
mod scan;
mod select;
mod settings;
mod sockets;
pub mod table;
mod teardown;

use std::collections::HashSet;
use std::time::Instant;

use super::Collector;
use crate::catalog::MetricDesc;
use crate::host::passwd::Users;
use crate::host::proc_pid_stat::{STATES, parse_pid_stat};
use crate::host::bytes::escape;
use crate::host::{self, HostError, HostPaths};
use crate::snapshot::{ErrorKind, Snapshot};
pub use catalog::*;
use export::ALWAYS;
use groups::Groups;
use reader::Reader;
use rules::Needs;
use scan::{Counts, DENIED_FILES, DENIED_SMAPS};
pub use settings::{Settings, Unmatched};
use table::Table;

/// System-wide facts read once per tick.
struct Tick {
    number: u64,
    btime: Option<u64>,
    cpus: Option<usize>,
    /// Seconds since the previous tick.
    elapsed: Option<f64>,
}

pub struct ProcessesCollector {
    paths: HostPaths,
    settings: Settings,
    needs: Needs,
    reader: Reader,
    pids: Vec<u32>,
    table: Table,
    groups: Groups,
    users: Users,
    comm: Vec<u8>,
    /// psutil's `name()` of the process being matched.
    name: Vec<u8>,
    argv0: Vec<u8>,
    cmdline: Vec<u8>,
    cgroup: Vec<u8>,
    fresh: Vec<u32>,
    chain: Vec<u32>,
    order: Vec<u32>,
    rank: Vec<(u64, usize)>,
    /// Scratch for fd and thread ids.
    fds: Vec<u32>,
    /// ioprio_get(2) answers for the pids of `procfs`: it is this process's own pid
    /// namespace's.
    ioprio: bool,
    folded: HashSet<u64>,
    denied: [u64; 3],
    /// With `sockets = true`: which process holds which socket.
    sockets: Option<sockets::SocketOwners>,
    scanned: u64,
    tick: u64,
    last: Option<Instant>,
    clock_ticks: f64,
    page_size: u64,
    exits: exits::Exits,
    /// Processes that ignore SIGCHLD, from this tick's scan.
    ignorers: Vec<teardown::Ignorer>,
}

impl ProcessesCollector {
    pub fn new(paths: HostPaths, settings: &Settings) -> Self {
        let needs = rules::needs(&settings.rules);
        let exits = exits::Exits::new(
            &paths,
            settings.groups && settings.exit_records,
            settings.exit_teardown,
        );
        let sockets = settings
            .sockets
            .then(|| sockets::SocketOwners::new(&paths, settings.timeout.0));
        Self {
            paths: paths.clone(),
            needs: Needs {
                user: needs.user || settings.top_n > 0,
                ..needs
            },
            reader: Reader::default(),
            pids: Vec::new(),
            table: Table::default(),
            groups: Groups::new(settings.max_groups),
            users: Users::default(),
            comm: Vec::with_capacity(64),
            name: Vec::with_capacity(64),
            argv0: Vec::new(),
            cmdline: Vec::new(),
            cgroup: Vec::new(),
            fresh: Vec::new(),
            chain: Vec::new(),
            order: Vec::new(),
            rank: Vec::new(),
            fds: Vec::new(),
            ioprio: same_pid_namespace(&paths),
            folded: HashSet::new(),
            denied: [0; 3],
            sockets,
            scanned: 0,
            tick: 0,
            last: None,
            clock_ticks: rustix::param::clock_ticks_per_second() as f64,
            page_size: rustix::param::page_size() as u64,
            exits,
            ignorers: Vec::new(),
            settings: settings.clone(),
        }
    }

    /// Credits the exit records of processes that ended, placing never-seen ones by the
    /// rules (from comm and uid), else by parent.
    fn credit_exits(&mut self, tick: &Tick) {
        let children = self.settings.children;
        let drop = self.settings.unmatched == Unmatched::Drop;
        let rules = &self.settings.rules;
        let users = &mut self.users;
        let passwd = self.paths.root("etc/passwd");
        let number = tick.number;
        self.exits.credit(
            number,
            tick.btime,
            self.clock_ticks,
            &mut self.table,
            &mut self.groups,
            |e, table, groups| {
                let comm = escape(e.comm());
                let name = if rules.is_empty() {
                    Some(comm.into_owned())
                } else {
                    users.refresh(&passwd, number);
                    let user = users.name(Some(e.uid));
                    rules::group_name(
                        rules,
                        &rules::Facts {
                            comm: &comm,
                            name: &comm,
                            argv0: b"",
                            cmdline: b"",
                            user: &user,
                            cgroup: b"",
                        },
                    )
                };
                exits::place_unseen(e, table, groups, children, drop, name)
            },
        );
    }

    fn limit(&self, file: &str, desc: &'static MetricDesc, out: &mut Snapshot) {
        match host::read_u64(&self.paths.proc(file)) {
            Ok(v) => out.add(desc, &[], v as f64),
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
    }
}

/// True when `procfs` is the live proc of this process's pid namespace (its `self` link is
/// our pid), so that a pid read there means the same process to a syscall.
fn same_pid_namespace(paths: &HostPaths) -> bool {
    paths.procfs_is_live()
        && std::fs::read_link(paths.proc("self"))
            .ok()
            .and_then(|l| l.to_str()?.parse::<u32>().ok())
            == Some(std::process::id())
}

impl Collector for ProcessesCollector {
    fn needs_two_readings(&self) -> bool {
        self.settings.groups
    }

    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let now = Instant::now();
        self.tick += 1;
        let path = self.paths.proc("stat");
        let stat = host::read(&path)
            .and_then(|text| host::proc_stat::parse_proc_stat(&text).map_err(|e| e.at(&path)));
        let (btime, cpus) = match &stat {
            Ok(s) => (s.btime, Some(s.per_cpu.len()).filter(|&n| n > 0)),
            Err(_) => (None, None),
        };
        let tick = Tick {
            number: self.tick,
            btime,
            cpus,
            elapsed: self.last.map(|l| now.duration_since(l).as_secs_f64()),
        };
        self.last = Some(now);
        self.reader
            .list(&self.paths.procfs, &mut self.pids)
            .map_err(|source| HostError::Read {
                path: self.paths.procfs.clone(),
                source,
            })?;
        let groups = self.settings.groups;
        if groups {
            let uptime = (tick.number == 1)
                .then(|| host::read(&self.paths.proc("uptime")).ok())
                .flatten()
                .and_then(|t| host::uptime::parse_uptime(&t).ok())
                .map(|s| (s * self.clock_ticks) as u64);
            self.table.begin(uptime);
            self.table.exit_records = self.exits.begin();
            self.groups.begin_tick();
        }
        let mut counts = Counts::default();
        self.scanned = 0;
        self.ignorers.clear();
        let mut scrapes = crate::serving::Yield::default();
        for i in 0..self.pids.len() {
            scrapes.between_items();
            let pid = self.pids[i];
            self.scan(pid, &mut counts);
        }
        if groups {
            self.resolve_fresh();
            self.table.place_fresh(&mut self.groups);
            let reader = &mut self.reader;
            self.table.settle(&mut self.groups, |pid, start| {
                reader
                    .read(pid, "stat")
                    .ok()
                    .and_then(parse_pid_stat)
                    .is_some_and(|s| s.starttime == start)
            });
            self.exits.watch(&self.ignorers, tick.number);
            self.credit_exits(&tick);
            let kernel = stat
                .as_ref()
                .ok()
                .map(|s| s.total.ticks[..3].iter().sum::<u64>());
            self.exits.balance(kernel, &self.groups);
            self.groups.expire(now, self.settings.empty_group_ttl.0);
            if let Some(s) = &mut self.sockets {
                s.walk(&self.paths, &self.pids, &self.table, out);
            }
        }

        for (i, state) in STATES.iter().enumerate() {
            let n = counts.by_state[i];
            if ALWAYS[i] || n > 0 {
                out.add(&COUNT, &[(STATE, state)], n as f64);
            }
        }
        out.add(&THREADS, &[], counts.threads as f64);
        match stat.map(|s| s.processes) {
            Ok(Some(n)) => out.add(&CREATED, &[], n as f64),
            Ok(None) => out.skip(
                ErrorKind::Parse,
                format!("parsing {}: no processes line", path.display()),
            ),
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        self.limit("sys/kernel/pid_max", &PID_LIMIT, out);
        self.limit("sys/kernel/threads-max", &THREAD_LIMIT, out);
        if groups {
            self.export_groups(&tick, out);
            let (table, groups) = (&self.table, &self.groups);
            let pinned = |pid| {
                table
                    .info(pid)
                    .and_then(|i| groups.get(i.group))
                    .is_some_and(|g| g.per_process)
            };
            let chosen = select::select(
                table.candidates(),
                self.settings.top_n,
                self.settings.max_processes,
                pinned,
                &mut self.rank,
            );
            if let Some(s) = &self.sockets {
                s.export_groups(&self.table, &self.groups, out);
            }
            self.export_top(&tick, &chosen.top, out);
            let threads_folded = self.export_detail(&tick, &chosen.detail, out);
            out.add(&DETAIL_FOLDED, &[], chosen.folded as f64);
            if self.settings.top_threads > 0 {
                out.add(&DETAIL_THREADS_FOLDED, &[], threads_folded as f64);
            }
            for (i, file) in DENIED_FILES.iter().enumerate() {
                if i != DENIED_SMAPS || self.settings.smaps {
                    out.add(&READS_DENIED, &[(FILE, file)], self.denied[i] as f64);
                }
            }
            self.exits.export(self.clock_ticks, out);
            out.add(
                &FOLDED,
                &[],
                self.table.folded_names(&mut self.folded) as f64,
            );
        }
        out.add(&SCANNED, &[], self.scanned as f64);
        self.reader.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::host::passwd;
    use crate::host::proc_pid_cgroup::cgroup_path;
    use crate::host::proc_pid_cmdline::join_into;
    use crate::host::proc_pid_io::parse_pid_io;
    use crate::host::proc_pid_limits::parse_nofile_soft;
    use crate::host::proc_pid_smaps::parse_smaps_rollup;
    use crate::host::proc_pid_status::parse_pid_status;

    /// A /proc tree in a temporary directory that a test rewrites between ticks.
    struct Tree(std::path::PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let root = std::env::temp_dir()
                .join(format!("vitals-processes-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let t = Tree(root);
            t.write(
                "proc/stat",
                "cpu  1 0 1 1 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\nbtime 1000\nprocesses 9\n",
            );
            t.write("proc/uptime", "100.00 100.00\n");
            t.write("proc/sys/kernel/pid_max", "32768\n");
            t.write("proc/sys/kernel/threads-max", "1000\n");
            t.write("etc/passwd", "root:x:0:0::/:/bin/sh\n");
            t
        }

        fn write(&self, rel: &str, text: &str) {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }

        /// A process with `utime` ticks of its own and `cutime` of its reaped children, `io`
        /// bytes read (None: io unreadable), started `start` ticks after boot.
        fn process(
            &self,
            pid: u32,
            ppid: u32,
            comm: &str,
            start: u64,
            (utime, cutime): (u64, u64),
            io: Option<u64>,
        ) {
            let _ = std::fs::remove_dir_all(self.0.join(format!("proc/{pid}")));
            self.write(
                &format!("proc/{pid}/stat"),
                &format!("{pid} ({comm}) S {ppid} 0 0 0 -1 0 0 0 0 0 {utime} 0 {cutime} 0 20 0 1 0 {start} 4096 1 0\n"),
            );
            self.write(
                &format!("proc/{pid}/status"),
                "Uid:\t0\t0\t0\t0\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n",
            );
            match io {
                Some(b) => self.write(
                    &format!("proc/{pid}/io"),
                    &format!("rchar: {b}\nwchar: 0\nread_bytes: {b}\nwrite_bytes: 0\n"),
                ),
                None => self.write(&format!("proc/{pid}/io/README"), ""),
            }
            self.write(&format!("proc/{pid}/fd/0"), "");
        }

        fn remove(&self, pid: u32) {
            std::fs::remove_dir_all(self.0.join(format!("proc/{pid}"))).unwrap();
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn value(s: &Snapshot, desc: &MetricDesc, labels: &[(&str, &str)]) -> Option<f64> {
        s.family(desc.name)?
            .samples
            .iter()
            .find(|x| {
                labels
                    .iter()
                    .all(|(k, v)| x.labels.iter().any(|(a, b)| a == k && b == v))
            })
            .map(|x| x.value)
    }

    fn collect(c: &mut ProcessesCollector) -> Snapshot {
        let mut s = Snapshot::default();
        c.collect(&mut s).unwrap();
        s
    }

    #[test]
    fn counters_across_ticks_exits_births_and_pid_reuse() {
        let t = Tree::new("ticks");
        let clk = rustix::param::clock_ticks_per_second() as f64;
        let user = |s: &Snapshot| {
            value(s, &CPU_TIME, &[(GROUP, "app"), (MODE, "user")]).map(|v| (v * clk).round())
        };
        t.process(10, 1, "app", 50, (100, 0), Some(1000));
        t.process(11, 10, "app", 60, (20, 0), None);
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &Settings::default());
        let s = collect(&mut c);
        assert_eq!(user(&s), Some(0.0), "counters start at 0");
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "app"), (STATE, "sleeping")]),
            Some(2.0)
        );
        assert_eq!(value(&s, &READS_DENIED, &[(FILE, "io")]), Some(1.0));
        assert_eq!(
            value(&s, &DISK_IO, &[(GROUP, "app"), (DIRECTION, "read")]),
            Some(0.0)
        );

        // 11 ran 5 more ticks, exited and was reaped by 10 (cutime 25); 12 is born (start
        // 20000 ticks, after vitals' first tick at uptime 100 s) with 7 ticks.
        t.process(10, 1, "app", 50, (110, 25), Some(1500));
        t.remove(11);
        t.process(12, 10, "app", 20000, (7, 0), Some(300));
        let s = collect(&mut c);
        assert_eq!(user(&s), Some((10 + 5 + 7) as f64));
        assert_eq!(
            value(&s, &DISK_IO, &[(GROUP, "app"), (DIRECTION, "read")]),
            Some(500.0 + 300.0)
        );
        assert_eq!(value(&s, &READS_DENIED, &[(FILE, "io")]), Some(1.0));

        // pid 12 reused by a new process with 2 ticks: nothing goes backwards.
        t.process(12, 10, "app", 30000, (2, 0), Some(0));
        let s = collect(&mut c);
        assert_eq!(user(&s), Some((22 + 2) as f64));
        assert_eq!(value(&s, &SCANNED, &[]), Some(2.0));

        // Every member gone: the group stays (its counters too) until empty_group_ttl.
        t.remove(10);
        t.remove(12);
        let s = collect(&mut c);
        assert_eq!(user(&s), Some(24.0));
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "app"), (STATE, "sleeping")]),
            Some(0.0)
        );
        assert_eq!(value(&s, &MEMORY_USAGE, &[(GROUP, "app")]), Some(0.0));
    }

    #[test]
    fn max_groups_folds_into_other_and_counts_names() {
        let t = Tree::new("fold");
        for (i, comm) in ["a", "b", "c", "d", "c"].iter().enumerate() {
            t.process(10 + i as u32, 1, comm, 50, (0, 0), Some(0));
        }
        let settings = Settings {
            max_groups: 2,
            ..Settings::default()
        };
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &settings);
        let s = collect(&mut c);
        let groups: Vec<&str> = s
            .family(MEMORY_USAGE.name)
            .unwrap()
            .samples
            .iter()
            .map(|x| x.labels[0].1.as_str())
            .collect();
        assert_eq!(groups, ["a", "b", "other"]);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "other"), (STATE, "sleeping")]),
            Some(3.0)
        );
        assert_eq!(value(&s, &FOLDED, &[]), Some(2.0), "c and d");
    }

    #[test]
    fn rules_children_and_drop() {
        let t = Tree::new("rules");
        t.process(10, 1, "sshd", 50, (0, 0), Some(0));
        t.process(11, 10, "bash", 60, (0, 0), Some(0));
        t.process(12, 11, "vim", 70, (0, 0), Some(0));
        t.process(13, 1, "cron", 80, (0, 0), Some(0));
        let settings: Settings =
            toml::from_str("unmatched = \"drop\"\n[[group]]\nname = \"ssh\"\ncomm = [\"sshd\"]\n")
                .unwrap();
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &settings);
        let s = collect(&mut c);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "ssh"), (STATE, "sleeping")]),
            Some(3.0)
        );
        assert_eq!(
            s.family(GROUP_COUNT.name).unwrap().samples.len(),
            1,
            "cron dropped"
        );
        assert_eq!(
            value(&s, &COUNT, &[(STATE, "sleeping")]),
            Some(4.0),
            "the system-wide counts keep every process"
        );
        // vim execs into a command no rule matches: it stays with its ancestor's group.
        t.process(12, 11, "make", 70, (0, 0), Some(0));
        let s = collect(&mut c);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "ssh"), (STATE, "sleeping")]),
            Some(3.0)
        );
        // cron execs into sshd: matched now.
        t.process(13, 1, "sshd", 80, (0, 0), Some(0));
        let s = collect(&mut c);
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "ssh"), (STATE, "sleeping")]),
            Some(4.0)
        );
    }

    #[test]
    fn per_process_groups_top_n_and_max_processes() {
        let t = Tree::new("detail");
        t.process(10, 1, "db", 50, (100, 0), Some(10));
        t.process(11, 10, "db", 60, (5, 0), Some(0));
        t.process(12, 10, "db", 70, (5, 0), Some(0));
        t.process(13, 1, "web", 80, (0, 0), Some(0));
        let settings: Settings = toml::from_str(
            "top_n = 1\nmax_processes = 3\n[[group]]\nname = \"db\"\ncomm = [\"db\"]\nper_process = true\n",
        )
        .unwrap();
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &settings);
        collect(&mut c);
        // 13 burns 7 ticks and reads 500 bytes: the top by CPU and by disk I/O.
        t.process(13, 1, "web", 80, (7, 0), Some(500));
        let s = collect(&mut c);
        let pids: Vec<&str> = s
            .family(DETAIL_INFO.name)
            .unwrap()
            .samples
            .iter()
            .map(|x| x.labels[0].1.as_str())
            .collect();
        assert_eq!(pids, ["10", "11", "13"], "the top first, then pinned by pid");
        assert_eq!(value(&s, &DETAIL_FOLDED, &[]), Some(1.0), "12 found no room");
        assert_eq!(
            value(&s, &TOP_MEMORY, &[(PID, "13")]),
            Some(0.0),
            "the top-N names stay"
        );
        assert!(value(&s, &TOP_MEMORY, &[(PID, "11")]).is_none(), "pinned is not top");
        let clk = rustix::param::clock_ticks_per_second() as f64;
        assert_eq!(
            value(&s, &DETAIL_CPU_TIME, &[(PID, "10"), (MODE, "user")]),
            Some(100.0 / clk),
            "the process's own counter, not vitals' increment"
        );
        assert_eq!(
            value(&s, &DETAIL_DISK_IO, &[(PID, "13"), (DIRECTION, "read")]),
            Some(500.0)
        );
        assert_eq!(
            value(&s, &GROUP_COUNT, &[(GROUP, "db"), (STATE, "sleeping")]),
            Some(3.0),
            "the group keeps every member"
        );
    }

    #[test]
    fn top_threads_bounds_thread_series_and_counts_the_rest() {
        let t = Tree::new("threads");
        t.process(10, 1, "db", 50, (0, 0), Some(0));
        t.process(11, 1, "db", 60, (0, 0), Some(0));
        t.process(12, 1, "web", 70, (0, 0), Some(0));
        // 10 has 5 threads (utime 1..=5 ticks, tid 14 the busiest), 11 one, 12 (not
        // per-process) 4, which are never read.
        let thread = |pid: u32, tid: u32, utime: u64| {
            t.write(
                &format!("proc/{pid}/task/{tid}/stat"),
                &format!("{tid} (w{tid}) S 1 0 0 0 -1 0 0 0 0 0 {utime} 1 0 0 20 0 1 0 50 4096 1 0\n"),
            );
        };
        for (i, tid) in (10..15).enumerate() {
            thread(10, tid, i as u64 + 1);
        }
        thread(11, 11, 9);
        for tid in 20..24 {
            thread(12, tid, 0);
        }
        let with = |top_threads: usize| {
            let rules = "top_n = 0\n[[group]]\nname = \"db\"\ncomm = [\"db\"]\nper_process = true\n";
            let settings: Settings =
                toml::from_str(&format!("top_threads = {top_threads}\n{rules}")).unwrap();
            ProcessesCollector::new(HostPaths::under(&t.0), &settings)
        };
        let mut c = with(2);
        let s = collect(&mut c);
        let mut tids: Vec<(String, String)> = s
            .family(DETAIL_THREAD_CPU_TIME.name)
            .unwrap()
            .samples
            .iter()
            .filter(|x| x.labels.iter().any(|(k, v)| *k == MODE && v == "user"))
            .map(|x| {
                let get = |name: &str| x.labels.iter().find(|(k, _)| *k == name).unwrap().1.clone();
                (get(PID), get(THREAD_ID))
            })
            .collect();
        tids.sort();
        let want = [("10", "13"), ("10", "14"), ("11", "11")];
        assert_eq!(tids, want.map(|(p, t)| (p.to_string(), t.to_string())));
        assert_eq!(
            value(&s, &DETAIL_THREADS_FOLDED, &[]),
            Some(3.0),
            "10's three idlest threads; 11 kept its one, 12 is not per-process"
        );

        // A thread that exits between the task listing and its stat is not counted.
        std::fs::remove_file(t.0.join("proc/10/task/10/stat")).unwrap();
        let s = collect(&mut c);
        assert_eq!(value(&s, &DETAIL_THREADS_FOLDED, &[]), Some(2.0));

        // Enough room: 0, still exported.
        assert_eq!(value(&collect(&mut with(5)), &DETAIL_THREADS_FOLDED, &[]), Some(0.0));

        // top_threads = 0: no per-thread series, and nothing to count as folded.
        let s = collect(&mut with(0));
        assert!(s.family(DETAIL_THREAD_CPU_TIME.name).is_none());
        assert!(s.family(DETAIL_THREADS_FOLDED.name).is_none());
        assert_eq!(value(&s, &DETAIL_FOLDED, &[]), Some(0.0));
    }

    #[test]
    fn groups_off_is_the_system_counts_alone() {
        let t = Tree::new("off");
        t.process(10, 1, "a", 50, (0, 0), Some(0));
        let settings = Settings {
            groups: false,
            ..Settings::default()
        };
        let mut c = ProcessesCollector::new(HostPaths::under(&t.0), &settings);
        assert!(!c.needs_two_readings());
        let s = collect(&mut c);
        assert!(s.family(GROUP_COUNT.name).is_none());
        assert_eq!(value(&s, &COUNT, &[(STATE, "sleeping")]), Some(1.0));
        assert_eq!(value(&s, &SCANNED, &[]), Some(1.0));
    }

    /// Every per-process parser on every prefix of the fixture files, and on byte-flipped
    /// copies: damaged host text is a partial result or `None`, never a panic.
    #[test]
    fn parsers_never_panic_on_damaged_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/processes/proc/701");
        let parse = |b: &[u8]| {
            let _ = parse_pid_stat(b);
            let _ = parse_pid_status(b);
            let _ = parse_pid_io(b);
            let _ = parse_smaps_rollup(b);
            let _ = parse_nofile_soft(b);
            let _ = cgroup_path(b);
            let mut out = Vec::new();
            join_into(b, &mut out);
            let _ = passwd::parse_passwd(b);
        };
        for file in [
            "stat", "status", "io", "limits", "cgroup", "cmdline", "statm",
        ] {
            let text = std::fs::read(dir.join(file)).unwrap();
            for end in 0..=text.len() {
                parse(&text[..end]);
            }
            for i in 0..text.len() {
                for b in [b' ', b'\n', b'(', b')', b':', b'-', 0xff, 0] {
                    let mut t = text.clone();
                    t[i] = b;
                    parse(&t);
                }
            }
        }
    }
}
