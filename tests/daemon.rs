//! The real binary over real HTTP: startup, endpoints, content negotiation, bad config,
//! shutdown on SIGTERM, and the generated files that must match the binary's output.

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{BIN, Daemon, wait_for};

const FAST: &str = "[collectors.cpu]\ninterval = \"200ms\"\ntimeout = \"200ms\"\n[collectors.memory]\ninterval = \"200ms\"\ntimeout = \"200ms\"\n";

#[test]
fn serves_health_readiness_and_both_formats() {
    let d = Daemon::start(FAST);
    assert_eq!(d.get("/healthz", &[]).status, 200);
    d.wait_ready();
    let landing = d.get("/", &[]);
    assert!(landing.text().contains("href=\"/metrics\""));

    let plain = d.get("/metrics", &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = plain.text();
    assert!(text.contains("# TYPE system_cpu_time_seconds_total counter\n"));
    assert!(text.contains("system_memory_limit_bytes "));
    assert!(text.contains("vitals_collector_up{collector=\"cpu\"} 1\n"));

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = d.get("/metrics", &[("Accept", prometheus_accept)]);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let om_text = om.text();
    assert!(om_text.ends_with("# EOF\n"));
    assert!(om_text.contains("# UNIT system_cpu_time_seconds seconds\n"));

    let gz = d.get("/metrics", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert!(unzipped.contains("# TYPE system_cpu_time_seconds_total counter\n"));

    // Utilization needs two readings; it appears after the second tick.
    wait_for(
        "utilization after a second cpu tick",
        Duration::from_secs(10),
        || {
            d.get("/metrics", &[])
                .text()
                .contains("system_cpu_utilization_ratio{")
        },
    );
}

#[test]
fn bad_requests_get_4xx() {
    let d = Daemon::start(FAST);
    assert_eq!(d.get("/nope", &[]).status, 404);
    let post = d.request(
        "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(post.status, 405);
    assert_eq!(d.request("NOT HTTP AT ALL\r\n\r\n").status, 400);
    // Still serving after all that.
    assert_eq!(d.get("/healthz", &[]).status, 200);
}

#[test]
fn sigterm_stops_cleanly_and_quickly() {
    let d = Daemon::start(FAST);
    d.wait_ready();
    let (status, took, logs) = d.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("shutting down") && l.contains("SIGTERM")),
        "{logs:?}"
    );
}

#[test]
fn a_bad_config_exits_2_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("vitals-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"0.0.0.0:9977\"\n\n[collectors.memory]\ninterval = \"0s\"\n",
    )
    .unwrap();
    for sub in [&["check-config"][..], &["run"][..], &[][..]] {
        let out = Command::new(BIN)
            .args(sub)
            .arg("--config")
            .arg(&cfg)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("line 5, column 12") && err.contains("out of range"),
            "{sub:?}: {err}"
        );
    }
    let out = Command::new(BIN)
        .args(["check-config", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}

#[test]
fn an_address_in_use_is_a_config_error_naming_the_key() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "server.listen = \"{addr}\" (from --listen): the address is already in use"
        )),
        "{err}"
    );
    let dir = std::env::temp_dir().join(format!("vitals-inuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("vitals.toml");
    std::fs::write(&cfg, format!("[server]\nlisten = \"{addr}\"\n")).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "server.listen = \"{addr}\": the address is already in use"
        )),
        "{err}"
    );
}

#[test]
fn generated_files_match_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run =
        |arg: &str| String::from_utf8(Command::new(BIN).arg(arg).output().unwrap().stdout).unwrap();
    assert_eq!(
        run("list-metrics"),
        std::fs::read_to_string(root.join("docs/metrics.md")).unwrap(),
        "docs/metrics.md is stale: cargo run -- list-metrics > docs/metrics.md"
    );
    assert_eq!(
        run("print-default-config"),
        std::fs::read_to_string(root.join("config/vitals.toml")).unwrap()
    );
}

#[test]
fn once_skips_a_collector_blocked_past_its_timeout() {
    // meminfo is a FIFO nobody writes: opening it blocks for ever. `once` reports the memory
    // collector as timed out and still prints the others and exits.
    let dir = std::env::temp_dir().join(format!("vitals-once-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modern/proc");
    std::fs::copy(fixture.join("stat"), dir.join("stat")).unwrap();
    let status = Command::new("mkfifo")
        .arg(dir.join("meminfo"))
        .status()
        .unwrap();
    assert!(status.success());
    let cfg = dir.join("vitals.toml");
    std::fs::write(
        &cfg,
        "[collectors.memory]\ninterval = \"1s\"\ntimeout = \"1s\"\n[collectors.cpu]\npercpu = false\n",
    )
    .unwrap();
    let start = Instant::now();
    let out = Command::new(BIN)
        .arg("once")
        .arg("--config")
        .arg(&cfg)
        .arg("--procfs")
        .arg(&dir)
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("vitals_collector_errors_total{collector=\"memory\",kind=\"timeout\"} 1"),
        "{text}"
    );
    assert!(text.contains("system_cpu_time_seconds_total{"), "{text}");
    assert!(
        took < Duration::from_secs(30),
        "once must return after the timeouts: {took:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
