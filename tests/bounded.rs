//! Bounded by construction: one test per row of the table of hostile inputs (host files,
//! config values, the environment), each against the real binary, each asserting that vitals
//! neither aborts, panics nor hangs and does the bounded thing instead (the error counted,
//! the value cut, check-config exiting 2 naming the key, `once` returning in its timeouts).
//! The caps are listed in the README, "Reliability".

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vitals");

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("vitals-bounded-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `rel` (parents created) and returns its path.
    fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary, killing it (and failing the test) if it has not exited within `limit`.
fn run(args: &[&std::ffi::OsStr], limit: Duration) -> (Output, Duration) {
    run_as(Command::new(BIN), args, limit)
}

fn run_as(mut cmd: Command, args: &[&std::ffi::OsStr], limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting vitals");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).map(|_| b)
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        stderr.read_to_end(&mut b).map(|_| b)
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vitals {args:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    let output = Output {
        status,
        stdout: out.join().unwrap().unwrap(),
        stderr: err.join().unwrap().unwrap(),
    };
    (output, took)
}

/// A config enabling only `name`, with `extra` lines in its section.
fn only(name: &str, extra: &str) -> String {
    let mut text = String::new();
    for other in vitals::collectors::NAMES.iter().filter(|n| **n != name) {
        text.push_str(&format!("[collectors.{other}]\nenabled = false\n"));
    }
    text.push_str(&format!("[collectors.{name}]\n{extra}\n"));
    text
}

/// `vitals once` with `config` and `--procfs/--sysfs/--rootfs` as given; must succeed.
fn once(
    dir: &TempDir,
    config: &str,
    roots: &[(&str, &Path)],
    limit: Duration,
) -> (String, Duration) {
    let cfg = dir.write("vitals.toml", config);
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["once".as_ref(), "--config".as_ref(), cfg.as_os_str()];
    for (flag, path) in roots {
        args.push(flag.as_ref());
        args.push(path.as_os_str());
    }
    let (out, took) = run(&args, limit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (String::from_utf8(out.stdout).unwrap(), took)
}

fn errors(text: &str, collector: &str, kind: &str) -> Option<u64> {
    let key =
        format!("vitals_collector_errors_total{{collector=\"{collector}\",kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map(|v| v.parse().unwrap())
}

/// `vitals check-config` on `text`: (exit code, stderr).
fn check_config(dir: &TempDir, text: &str) -> (Option<i32>, String) {
    let cfg = dir.write("check.toml", text);
    let (out, _) = run(
        &[
            "check-config".as_ref(),
            "--config".as_ref(),
            cfg.as_os_str(),
        ],
        Duration::from_secs(30),
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

#[test]
fn cpu_online_0_to_4294967295_is_a_parse_error_not_an_abort() {
    let dir = TempDir::new("cpu-online");
    dir.write("sys/devices/system/cpu/online", "0-4294967295\n");
    let sys = dir.0.join("sys");
    let (text, _) = once(
        &dir,
        &only("cpu", "percpu = false"),
        &[("--procfs", &fixture("modern/proc")), ("--sysfs", &sys)],
        Duration::from_secs(30),
    );
    assert_eq!(errors(&text, "cpu", "parse"), Some(1), "{text}");
    // The count falls back to the CPUs /proc/stat lists.
    assert!(text.contains("\nsystem_cpu_logical_count 4\n"), "{text}");
    assert!(
        text.contains("vitals_collector_up{collector=\"cpu\"} 1"),
        "{text}"
    );
}

#[test]
fn proc_stat_that_never_ends_is_a_parse_error_not_out_of_memory() {
    let dir = TempDir::new("dev-zero");
    let proc = dir.0.join("proc");
    std::fs::create_dir_all(&proc).unwrap();
    for f in ["cpuinfo", "loadavg", "meminfo"] {
        std::fs::copy(fixture("modern/proc").join(f), proc.join(f)).unwrap();
    }
    std::os::unix::fs::symlink("/dev/zero", proc.join("stat")).unwrap();
    let (text, took) = once(
        &dir,
        &only("cpu", ""),
        &[("--procfs", &proc)],
        Duration::from_secs(60),
    );
    assert_eq!(errors(&text, "cpu", "parse"), Some(1), "{text}");
    assert!(
        text.contains("vitals_collector_up{collector=\"cpu\"} 0"),
        "{text}"
    );
    // Reading until memory runs out took about 12 s; 16 MiB of zeros take milliseconds.
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[test]
fn a_1_mb_hwmon_label_is_counted_and_a_long_label_cut_at_256_bytes() {
    let sensor = |dir: &TempDir, label: &[u8]| {
        dir.write("sys/class/hwmon/hwmon0/name", "chip\n");
        dir.write("sys/class/hwmon/hwmon0/temp1_input", "42000\n");
        dir.write("sys/class/hwmon/hwmon0/temp1_label", label);
        dir.0.join("sys")
    };
    // Over the 64 KiB cap of a sysfs attribute: a parse error, never exported.
    let dir = TempDir::new("hwmon-1mb");
    let sys = sensor(&dir, &vec![b'L'; 1 << 20]);
    let (text, _) = once(
        &dir,
        &only("sensors", ""),
        &[("--sysfs", &sys)],
        Duration::from_secs(30),
    );
    assert_eq!(
        errors(&text, "sensors", "parse"),
        Some(1),
        "{}",
        &text[..text.len().min(3000)]
    );
    assert!(text.len() < 20_000, "{} bytes of exposition", text.len());

    // Within the cap but over 256 bytes: exported, cut, with the marker.
    let dir = TempDir::new("hwmon-10kb");
    let label = "L".repeat(10_000);
    let sys = sensor(&dir, format!("{label}\n").as_bytes());
    let (text, _) = once(
        &dir,
        &only("sensors", ""),
        &[("--sysfs", &sys)],
        Duration::from_secs(30),
    );
    assert_eq!(errors(&text, "sensors", "parse"), Some(0), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("hw_temperature_celsius{"))
        .unwrap_or_else(|| panic!("no temperature series: {text}"));
    let value = line
        .split("hw_sensor_location=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("no location label: {line}"));
    assert!(value.len() <= 256, "{} bytes: {value}", value.len());
    assert!(
        value.starts_with("LLLL") && value.contains("…[10000 bytes, "),
        "{value}"
    );
}

#[test]
fn utmp_of_100000_distinct_users_is_collected_in_linear_time() {
    use vitals::host::utmp::{Record, USER_PROCESS, encode_record};
    const N: usize = 100_000;
    let dir = TempDir::new("utmp-100k");
    let data: Vec<u8> = (0..N)
        .flat_map(|i| {
            encode_record(&Record {
                ut_type: USER_PROCESS,
                pid: i as i32,
                line: format!("pts/{i}"),
                id: (i as u32).to_ne_bytes(),
                user: format!("user{i:06}"),
                host: String::new(),
                tv_sec: 1_763_700_000,
            })
        })
        .collect();
    dir.write("root/var/run/utmp", data);
    let root = dir.0.join("root");
    let config = only("users", "interval = \"1m\"\ntimeout = \"1m\"");
    let (text, took) = once(
        &dir,
        &config,
        &[("--rootfs", &root)],
        Duration::from_secs(120),
    );
    let series = text
        .lines()
        .filter(|l| l.starts_with("system_users_count{"))
        .count();
    assert_eq!(series, N);
    assert!(text.contains("system_users_count{user_name=\"user099999\"} 1\n"));
    assert_eq!(errors(&text, "users", "timeout"), Some(0));
    // Quadratic, this was 32 s in a release build; linear, well under a second there.
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn interval_18446744073709551615s_is_rejected_by_check_config_and_run() {
    let dir = TempDir::new("interval-max");
    let text = "[collectors.cpu]\ninterval = \"18446744073709551615s\"\n";
    let (code, err) = check_config(&dir, text);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("collectors.cpu.interval: ") && err.contains("out of range"),
        "{err}"
    );
    // run refuses it the same way, before serving anything.
    let cfg = dir.write("run.toml", text);
    let (out, _) = run(
        &[
            "run".as_ref(),
            "--config".as_ref(),
            cfg.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn max_in_flight_above_2_pow_61_is_rejected_by_check_config_and_run() {
    let dir = TempDir::new("max-in-flight");
    for value in ["2305843009213693953", "18446744073709551615", "0"] {
        let text = format!("[server]\nmax_in_flight = {value}\n");
        let (code, err) = check_config(&dir, &text);
        assert_eq!(code, Some(2), "{value}: {err}");
        assert!(err.contains("server.max_in_flight"), "{value}: {err}");
        let cfg = dir.write("run.toml", &text);
        let (out, _) = run(
            &[
                "run".as_ref(),
                "--config".as_ref(),
                cfg.as_os_str(),
                "--listen".as_ref(),
                "127.0.0.1:0".as_ref(),
            ],
            Duration::from_secs(30),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn every_interval_1ms_is_rejected_by_check_config() {
    let dir = TempDir::new("one-ms");
    let mut keys: Vec<(String, &str)> = vitals::collectors::NAMES
        .iter()
        .flat_map(|n| {
            [
                (format!("collectors.{n}"), "interval"),
                (format!("collectors.{n}"), "timeout"),
            ]
        })
        .collect();
    for (table, key) in [
        ("server", "request_timeout"),
        ("otlp", "interval"),
        ("otlp", "timeout"),
        ("collectors.filesystem", "statfs_timeout"),
    ] {
        keys.push((table.to_string(), key));
    }
    for (table, key) in &keys {
        let (code, err) = check_config(&dir, &format!("[{table}]\n{key} = \"1ms\"\n"));
        assert_eq!(code, Some(2), "{table}.{key}: {err}");
        assert!(
            err.contains(&format!("{table}.{key}: ")) && err.contains("between 100ms and 24h"),
            "{table}.{key}: {err}"
        );
    }
    // The shortest accepted.
    let (code, err) = check_config(
        &dir,
        "[collectors.cpu]\ninterval = \"100ms\"\ntimeout = \"100ms\"\n",
    );
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn once_with_a_collector_blocked_on_a_fifo_exits_within_its_timeout() {
    // utmp is a FIFO nobody writes: opening it blocks for ever. `once` reports the users
    // collector as timed out after its 1 s and still prints cpu and exits.
    let dir = TempDir::new("once-fifo");
    std::fs::create_dir_all(dir.0.join("root/var/run")).unwrap();
    let fifo = dir.0.join("root/var/run/utmp");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut config = only("users", "interval = \"1s\"\ntimeout = \"1s\"");
    config = config.replace(
        "[collectors.cpu]\nenabled = false\n",
        "[collectors.cpu]\npercpu = false\n",
    );
    let root = dir.0.join("root");
    let (text, took) = once(
        &dir,
        &config,
        &[("--rootfs", &root), ("--procfs", &fixture("modern/proc"))],
        Duration::from_secs(30),
    );
    assert_eq!(errors(&text, "users", "timeout"), Some(1), "{text}");
    assert!(text.contains("system_cpu_time_seconds_total{"), "{text}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn listen_port_in_use_or_privileged_exits_2_naming_server_listen() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let (out, _) = run(
        &["--listen".as_ref(), addr.as_ref()],
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "server.listen = \"{addr}\" (from --listen): the address is already in use"
        )),
        "{err}"
    );

    // Port 80 as an unprivileged user: only where this test can become one and the kernel
    // keeps port 80 privileged.
    let unprivileged_start =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
    let is_root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    });
    if !is_root
        || unprivileged_start.is_none_or(|p| p <= 80)
        || Command::new("setpriv").arg("--version").output().is_err()
    {
        eprintln!("skipping the port 80 half: needs root, setpriv and port 80 privileged");
        return;
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
    let (out, _) = run_as(
        cmd,
        &["--listen".as_ref(), "127.0.0.1:80".as_ref()],
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("server.listen = \"127.0.0.1:80\" (from --listen): permission denied"),
        "{err}"
    );
}

#[test]
fn a_rejected_10_mb_config_value_is_not_echoed_whole() {
    let dir = TempDir::new("10mb");
    let huge = "9".repeat(10 << 20);
    for text in [
        format!("[collectors.cpu]\ninterval = \"{huge}s\"\n"),
        format!("[server]\nlisten = \"{huge}\"\n"),
        format!("[collectors.cpu]\ninterval = \"5s\"\n[collectors.users]\n{huge} = 1\n"),
    ] {
        let (code, err) = check_config(&dir, &text);
        assert_eq!(code, Some(2), "{}", &err[..err.len().min(2000)]);
        assert!(
            err.len() < 4096,
            "{} bytes on stderr: {}",
            err.len(),
            &err[..2000]
        );
        assert!(err.contains("bytes in all"), "{err}");
    }
}

#[test]
fn a_config_file_that_never_ends_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["check-config", "--config", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than 67108864 bytes"), "{err}");
}

#[test]
fn web_config_and_pem_files_that_never_end_are_refused() {
    let dir = TempDir::new("endless-files");
    let web = dir.write(
        "web.yml",
        "tls_server_config:\n  cert_file: /dev/zero\n  key_file: /dev/zero\n",
    );
    for (web_config, expected) in [
        (Path::new("/dev/zero"), "larger than 67108864 bytes"),
        (web.as_path(), "larger than 1048576 bytes"),
    ] {
        let text = format!("[server]\nweb_config_file = \"{}\"\n", web_config.display());
        let (code, err) = check_config(&dir, &text);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(expected), "{err}");
    }
    // The OTLP CA file is read when the pusher is prepared, at start: exit 2 naming it.
    let cfg = dir.write(
        "otlp.toml",
        "[server]\nlisten = \"127.0.0.1:0\"\n[otlp]\nenabled = true\nendpoint = \"https://127.0.0.1:4318/v1/metrics\"\n[otlp.tls]\nca_file = \"/dev/zero\"\n",
    );
    let (out, _) = run(
        &["--config".as_ref(), cfg.as_os_str()],
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than 1048576 bytes"), "{err}");
}

/// A cgroup v2 tree under `dir/sys/fs/cgroup` with `cgroups` (relative paths, bytes) each
/// holding a cpu.stat.
fn cgroup_tree(dir: &TempDir, cgroups: &[Vec<u8>]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let top = dir.0.join("sys/fs/cgroup");
    std::fs::create_dir_all(&top).unwrap();
    std::fs::write(top.join("cgroup.controllers"), "cpu memory io pids\n").unwrap();
    for rel in cgroups {
        let d = top.join(std::ffi::OsStr::from_bytes(rel));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("cpu.stat"),
            "usage_usec 3\nuser_usec 2\nsystem_usec 1\n",
        )
        .unwrap();
    }
    dir.0.join("sys")
}

#[test]
fn cgroups_nested_200_deep_stop_at_64_levels_and_are_counted() {
    let dir = TempDir::new("cgroups-deep");
    let levels: Vec<Vec<u8>> = (1..=200)
        .map(|n| vec!["x.service"; n].join("/").into_bytes())
        .collect();
    let sys = cgroup_tree(&dir, &levels);
    let (text, _) = once(
        &dir,
        &only("cgroups", ""),
        &[("--sysfs", &sys)],
        Duration::from_secs(30),
    );
    assert_eq!(errors(&text, "cgroups", "parse"), Some(1), "{text}");
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("container_cpu_time_seconds_total{"))
        .collect();
    assert_eq!(
        series.len(),
        2,
        "the deepest walked, user and system: {series:?}"
    );
    // 64 levels of 10 bytes, cut to 256 bytes with the marker giving the whole length.
    assert!(series[0].contains("…[640 bytes, "), "{}", series[0]);
}

#[test]
fn cgroups_100000_in_the_tree_stop_at_max_walk_in_bounded_time() {
    // In memory where there is a tmpfs: 100,000 directories on a shared disk take a minute.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        let d = shm.join(format!(
            "vitals-bounded-cgroups-100k-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    } else {
        TempDir::new("cgroups-100k")
    };
    let top = dir.0.join("sys/fs/cgroup");
    for i in 0..100 {
        for j in 0..1000 {
            std::fs::create_dir_all(top.join(format!("s{i}.slice/c{j}.service"))).unwrap();
        }
    }
    let sys = cgroup_tree(&dir, &[]);
    let (text, took) = once(
        &dir,
        &only("cgroups", "timeout = \"20s\"\ninterval = \"20s\""),
        &[("--sysfs", &sys)],
        Duration::from_secs(60),
    );
    assert_eq!(errors(&text, "cgroups", "parse"), Some(1), "{text}");
    assert_eq!(errors(&text, "cgroups", "timeout"), Some(0), "{text}");
    // 20,000 directories walked: the root, 20 slices and 19,979 services; 500 exported.
    assert!(text.contains("\nvitals_cgroups_folded 19479\n"), "{text}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn cgroups_with_a_blocking_cpu_stat_time_out_and_once_exits() {
    let dir = TempDir::new("cgroups-fifo");
    let sys = cgroup_tree(&dir, &[b"ok.service".to_vec()]);
    let fifo_dir = dir.0.join("sys/fs/cgroup/stuck.service");
    std::fs::create_dir_all(&fifo_dir).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(fifo_dir.join("cpu.stat"))
            .status()
            .unwrap()
            .success()
    );
    let (text, took) = once(
        &dir,
        &only("cgroups", "interval = \"1s\"\ntimeout = \"1s\""),
        &[("--sysfs", &sys)],
        Duration::from_secs(30),
    );
    assert_eq!(errors(&text, "cgroups", "timeout"), Some(1), "{text}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn cgroups_named_in_bytes_that_are_not_utf8_are_escaped() {
    let dir = TempDir::new("cgroups-non-utf8");
    let sys = cgroup_tree(&dir, &[b"system.slice/caf\xe9.service".to_vec()]);
    let (text, _) = once(
        &dir,
        &only("cgroups", ""),
        &[("--sysfs", &sys)],
        Duration::from_secs(30),
    );
    assert!(
        text.contains(
            "container_cpu_time_seconds_total{cgroup_path=\"/system.slice/caf\\\\xe9.service\",systemd_unit=\"caf\\\\xe9.service\",systemd_slice=\"system.slice\",cpu_mode=\"user\"} 0.000002\n"
        ),
        "{text}"
    );
}
