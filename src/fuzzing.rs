//! Fuzz entry points: one function per parser of data from outside the process (host files,
//! netlink replies, the config files, HTTP headers), run by the cargo-fuzz targets in `fuzz/`
//! and, on stable Rust, by `tests/fuzz_corpus.rs`, which replays the saved corpus and every
//! past crash. Each must return, whatever the bytes; where a parser promises more (escaping
//! is reversible), the entry point checks it.
//!
//! Adding a parser: one function here and one line in [`TARGETS`]; `scripts/fuzz.sh` and the
//! replay test find it there, and `fuzz/fuzz_targets/` gets a file of the same name.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use crate::host;

/// A target's name (the cargo-fuzz target and its corpus directory) and entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("host_proc_stat", proc_stat),
    ("host_meminfo", meminfo),
    ("host_zoneinfo", zoneinfo),
    ("host_vmstat", vmstat),
    ("host_loadavg", loadavg),
    ("host_cpuinfo", cpuinfo),
    ("host_cpu_sysfs", cpu_sysfs),
    ("host_diskstats", diskstats),
    ("host_mounts", mounts),
    ("host_net_dev", net_dev),
    ("host_proc_net_inet", proc_net_inet),
    ("host_proc_net_unix", proc_net_unix),
    ("host_if_inet6", if_inet6),
    ("host_net_if", net_if),
    ("host_sock_diag", sock_diag),
    ("host_taskstats", taskstats),
    ("host_btf", btf),
    ("host_task_free", task_free),
    ("host_hwmon", hwmon),
    ("host_power_supply", power_supply),
    ("host_utmp", utmp),
    ("host_os_release", os_release),
    ("host_pid_stat", pid_stat),
    ("host_pid_status", pid_status),
    ("host_pid_cmdline", pid_cmdline),
    ("host_fd_link", fd_link),
    ("host_passwd", passwd),
    ("host_cgroup_flat", cgroup_flat),
    ("host_cgroup_values", cgroup_values),
    ("host_cgroup_io_stat", cgroup_io_stat),
    ("host_cgroup_names", cgroup_names),
    ("host_psi", psi),
    ("process_rules", process_rules),
    ("host_bytes", bytes),
    ("config_toml", config_toml),
    ("web_config", web_config),
    ("http_basic_auth", http_basic_auth),
    ("http_accept", http_accept),
    #[cfg(feature = "otlp")]
    ("otlp_queue_file", otlp_queue_file),
];

/// Runs the named target on `data`; false when there is no such target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match TARGETS.iter().find(|(name, _)| *name == target) {
        Some((_, f)) => {
            f(data);
            true
        }
        None => false,
    }
}

/// Host files are read with `read_to_string`, so text parsers only ever see UTF-8; invalid
/// bytes become U+FFFD rather than making the input useless.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

fn proc_stat(data: &[u8]) {
    let _ = host::proc_stat::parse_proc_stat(&text(data));
}

fn meminfo(data: &[u8]) {
    if let Ok(m) = host::meminfo::parse_meminfo(&text(data)) {
        let _ = host::meminfo::needs_zoneinfo(&m);
        let _ = host::meminfo::virtual_memory(&m, None);
        let _ = host::meminfo::virtual_memory(&m, Some(u64::MAX));
    }
}

fn zoneinfo(data: &[u8]) {
    let _ = host::meminfo::parse_zoneinfo_low(&text(data));
}

fn vmstat(data: &[u8]) {
    let _ = host::vmstat::parse_vmstat(&text(data));
}

/// Flat keyed files (`cpu.stat`, `memory.stat`, `memory.events`) and what the cgroups
/// collector derives from `memory.stat`.
fn cgroup_flat(data: &[u8]) {
    let _ = host::cgroup::pick(data, &[b"user_usec", b"system_usec", b"oom_kill"]);
    let _ = crate::collectors::cgroups::memory_stat(data, Some(u64::MAX), |_, _, _| {});
}

/// One-value files (`memory.max`, `pids.current`, `cpu.weight`), `cpu.max`, `cgroup.procs`.
fn cgroup_values(data: &[u8]) {
    let _ = host::cgroup::parse_limit(data);
    let _ = host::cgroup::parse_cpu_max(data);
    host::cgroup::count_lines(data);
}

fn cgroup_io_stat(data: &[u8]) {
    let mut lines = Vec::new();
    let _ = host::cgroup::parse_io_stat(data, &mut lines);
}

/// A cgroup path's identity, the kubelet's log names and the runtimes' state files.
fn cgroup_names(data: &[u8]) {
    let t = text(data);
    let _ = host::cgroup_names::classify(&t);
    let _ = host::cgroup_names::parse_pod_log_dir(&t);
    let _ = host::cgroup_names::parse_container_log(&t);
    let _ = host::cgroup_names::parse_docker_config(data);
    let _ = host::cgroup_names::parse_podman_containers(data);
}

fn psi(data: &[u8]) {
    let _ = host::psi::parse_pressure(data);
}

fn loadavg(data: &[u8]) {
    let _ = host::loadavg::parse_loadavg(&text(data));
}

fn cpuinfo(data: &[u8]) {
    let t = text(data);
    let _ = host::cpuinfo::parse_cpuinfo_mhz(&t);
    let _ = host::cpuinfo::parse_cpuinfo_cores(&t);
}

fn cpu_sysfs(data: &[u8]) {
    let t = text(data);
    let _ = host::cpu_sysfs::parse_cpu_list(&t);
    let _ = host::cpu_sysfs::trailing_number(&t, "cpu");
    let _ = host::cpu_sysfs::trailing_number(&t, "");
}

fn diskstats(data: &[u8]) {
    let _ = host::diskstats::parse_diskstats(data);
}

fn mounts(data: &[u8]) {
    if let Ok(m) = host::mounts::parse_mounts(data) {
        let _ = host::mounts::distinct(&m, |_| true);
        for mount in &m {
            let _ = mount.mode();
        }
    }
    let _ = host::mounts::unescape(data);
    // The first two bytes pick the device numbers looked up in the rest (as /proc/partitions).
    if let [major, minor, rest @ ..] = data {
        let _ = host::mounts::partition_name(
            &String::from_utf8_lossy(rest),
            u32::from(*major),
            u32::from(*minor),
        );
    }
}

fn net_dev(data: &[u8]) {
    let _ = host::net_dev::parse_net_dev(data);
}

fn proc_net_inet(data: &[u8]) {
    let t = text(data);
    let _ = host::proc_net::parse_inet_table(&t);
    for field in t.split_whitespace().take(64) {
        let _ = host::proc_net::decode_address(field);
    }
}

fn proc_net_unix(data: &[u8]) {
    let _ = host::proc_net::count_unix_table(&text(data));
}

fn if_inet6(data: &[u8]) {
    if let Ok(lines) = host::proc_net::parse_if_inet6(data) {
        let _ = host::net_if::ipv6_addrs(&lines);
    }
}

/// sysfs `flags`, `speed`, `duplex`, `address`, `broadcast` and `operstate`, one per line.
fn net_if(data: &[u8]) {
    let t = text(data);
    let mut lines = t.split('\n');
    let mut next = || lines.next().unwrap_or("");
    let flags = host::net_if::parse_flags(next()).unwrap_or(0);
    let _ = host::net_if::parse_speed(next());
    let _ = host::net_if::parse_duplex(next());
    let (address, broadcast, operstate) = (next(), next(), next());
    let _ = host::net_if::link_addr_from_sysfs(OsStr::new("eth0"), address, broadcast, flags);
    let _ = host::net_if::is_running(flags, operstate);
    let _ = host::net_if::format_mac(data);
}

fn sock_diag(data: &[u8]) {
    // The first 8 bytes pick the sequence number and port a dump expects.
    let (seq, port, rest) = match data {
        [a, b, c, d, e, f, g, h, rest @ ..] => (
            u32::from_le_bytes([*a, *b, *c, *d]),
            u32::from_le_bytes([*e, *f, *g, *h]),
            rest,
        ),
        _ => (0, 0, data),
    };
    let _ = host::sock_diag::parse_dump(rest, host::sock_diag::Expect { seq, port });
}

/// A datagram from the taskstats family: the first 2 bytes pick the family id.
fn taskstats(data: &[u8]) {
    let (family, rest) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (0, data),
    };
    let _ = host::taskstats::parse_datagram(rest, family, |_| {});
    let _ = host::taskstats::parse_datagram(data, 31, |_| {});
    let _ = host::taskstats::parse_family_id(data);
    let _ = host::taskstats::parse_taskstats(data);
}

/// The kernel's BTF: the task offsets, which must then make a program.
fn btf(data: &[u8]) {
    if let Ok(o) = host::btf::task_offsets(std::io::Cursor::new(data)) {
        assert_eq!(host::task_free::program(&o, 3).len() % 8, 0);
    }
}

/// Records of the task-free ring, as drained (16 bytes each).
fn task_free(data: &[u8]) {
    for r in data.chunks(host::task_free::RECORD) {
        let _ = host::task_free::parse_record(r);
    }
}

/// A directory listing (one name a line) and the values of the attributes in it.
fn hwmon(data: &[u8]) {
    let t = text(data);
    let names: Vec<OsString> = data
        .split(|b| *b == b'\n')
        .map(|l| OsStr::from_bytes(l).to_os_string())
        .collect();
    for prefix in ["temp", "fan", ""] {
        let _ = host::hwmon::sensor_bases(&names, prefix);
    }
    for line in t.lines().take(64) {
        let _ = host::hwmon::parse_float(line);
        let high = host::hwmon::parse_millidegrees(line);
        let _ = host::hwmon::psutil_limits(high, high.map(|h| -h));
        let _ = host::hwmon::sensor_id(OsStr::new(line), OsStr::new(line));
    }
}

/// The power_supply attributes psutil reads, one per line, and a listing to pick from.
fn power_supply(data: &[u8]) {
    let t = text(data);
    let lines: Vec<&str> = t.lines().collect();
    let number = |i: usize| lines.get(i).and_then(|l| l.trim().parse::<i64>().ok());
    let files = host::power_supply::BatteryFiles {
        energy_now: number(0),
        power_now: number(1),
        energy_full: number(2),
        time_to_empty: number(3),
        capacity: number(4),
        ac_online: number(5),
        status: lines.get(6).map(|s| s.to_string()),
    };
    let _ = host::power_supply::battery_from(OsStr::new("BAT0"), &files);
    let names: Vec<OsString> = lines.iter().map(OsString::from).collect();
    let _ = host::power_supply::pick_battery(&names);
}

fn utmp(data: &[u8]) {
    let _ = host::utmp::parse_records(data);
    let _ = host::utmp::users(data);
}

fn os_release(data: &[u8]) {
    let fields = host::os_release::parse_os_release(&text(data));
    let _ = host::os_release::get(&fields, "PRETTY_NAME");
}

fn pid_stat(data: &[u8]) {
    if let Some(stat) = host::proc_pid_stat::parse_pid_stat(data) {
        let _ = host::proc_pid_stat::state_index(stat.state);
        let _ = stat.is_kernel_thread();
        let _ = host::proc_pid_stat::terminal(stat.tty_nr);
    }
    let _ = host::proc_pid_stat::parse_state_threads(data);
}

/// The `Key: number` files of a process: status, io, limits, statm and smaps_rollup. Each
/// parser sees every input, as the cpuinfo target does.
fn pid_status(data: &[u8]) {
    let status = host::proc_pid_status::parse_pid_status(data);
    let _ = (
        status.shared_bytes(),
        status.rss_bytes(),
        status.swap_bytes(),
    );
    let _ = host::proc_pid_io::parse_pid_io(data);
    let _ = host::proc_pid_limits::parse_nofile_soft(data);
    assert!(host::proc_pid_limits::parse_limits(data).len() <= data.len());
    let _ = host::proc_pid_statm::parse_statm(data);
    let _ = host::proc_pid_status::cpu_list_len(data);
    let _ = host::proc_pid_smaps::parse_smaps_rollup(data);
}

/// The whole input, then each of its lines, as the text of a `/proc/<pid>/fd` link.
fn fd_link(data: &[u8]) {
    for link in std::iter::once(data).chain(data.split(|b| *b == b'\n').take(1024)) {
        if let Some(inode) = host::proc_pid_fd::socket_inode(link) {
            let canonical = format!("socket:[{inode}]");
            assert_eq!(
                host::proc_pid_fd::socket_inode(canonical.as_bytes()),
                Some(inode),
                "the inode's own link text gives it back"
            );
        }
    }
}

/// A process's cmdline (NUL- or space-separated arguments), its cgroup file and its environ
/// (NUL-separated entries).
fn pid_cmdline(data: &[u8]) {
    let mut joined = Vec::new();
    host::proc_pid_cmdline::join_into(data, &mut joined);
    assert!(
        joined.len() <= data.len(),
        "joining made the cmdline longer"
    );
    for arg in host::proc_pid_cmdline::args(data).take(64) {
        let _ = host::proc_pid_cmdline::basename(arg);
    }
    let _ = host::proc_pid_cgroup::cgroup_path(data);
    let name = host::proc_pid_cmdline::full_name(b"averyveryverylo", data);
    assert!(name.len() <= data.len().max(15));
    for var in [&b"PATH"[..], b"", b"="] {
        let _ = host::proc_pid_environ::environ_value(data, var);
    }
}

fn passwd(data: &[u8]) {
    let _ = host::passwd::parse_passwd(data);
}

/// A grouping rule applied to a process: the first line is the name template, the second a
/// cmdline expression (when it compiles), the rest the process's cmdline; comm, exe, user and
/// cgroup are taken from it as the collector takes them from /proc.
fn process_rules(data: &[u8]) {
    use crate::collectors::processes::rules::{BytesPattern, Facts, Rule, Template, group_name};
    let mut lines = data.splitn(3, |b| *b == b'\n');
    let template = text(lines.next().unwrap_or_default()).into_owned();
    let pattern = text(lines.next().unwrap_or_default()).into_owned();
    let cmdline = lines.next().unwrap_or_default();
    let Ok(name) = Template::parse(&template) else {
        return;
    };
    let argv0 = host::proc_pid_cmdline::args(cmdline)
        .next()
        .unwrap_or_default();
    let comm = host::bytes::escape(host::proc_pid_cmdline::basename(argv0));
    let user = text(argv0);
    let facts = Facts {
        comm: &comm,
        name: &comm,
        argv0,
        cmdline,
        user: &user,
        cgroup: cmdline,
    };
    let patterns: Vec<BytesPattern> = BytesPattern::new(&pattern).into_iter().collect();
    let rule = Rule {
        name,
        comm: vec![comm.to_string()],
        exe: vec![comm.to_string()],
        cmdline: patterns.clone(),
        user: vec![user.to_string()],
        cgroup: patterns,
        per_process: false,
    };
    let _ = group_name(std::slice::from_ref(&rule), &facts);
}

/// Escaping a host name must be reversible, whatever its bytes.
fn bytes(data: &[u8]) {
    let escaped = host::bytes::escape(data);
    assert_eq!(
        host::bytes::unescape(&escaped),
        data,
        "escape is not reversible"
    );
    let _ = host::bytes::unescape(&text(data));
}

fn config_toml(data: &[u8]) {
    let _ = crate::config::Config::from_toml(&text(data), Path::new("fuzz.toml"));
}

fn web_config(data: &[u8]) {
    let _ = crate::export::webconfig::WebConfigFile::parse(&text(data));
}

fn http_basic_auth(data: &[u8]) {
    let _ = crate::export::auth::parse_basic(data);
}

/// Content negotiation on an `Accept` and `Accept-Encoding` header of these bytes.
fn http_accept(data: &[u8]) {
    use axum::http::{HeaderMap, HeaderValue, header};
    if let Ok(v) = HeaderValue::from_bytes(data) {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.clone());
        h.insert(header::ACCEPT_ENCODING, v);
        let _ = crate::export::http::negotiate(&h);
    }
}

/// The OTLP queue file's reader: whatever the bytes, the live requests it finds, written out
/// again, read back the same with nothing corrupt.
#[cfg(feature = "otlp")]
fn otlp_queue_file(data: &[u8]) {
    use crate::otlp::queue_file::{request_record, scan};
    let first = scan(data);
    let mut again = Vec::new();
    for r in &first.requests {
        request_record(r, &mut again);
    }
    let second = scan(&again);
    assert_eq!(second.requests, first.requests);
    assert_eq!(second.corrupt, 0);
}
