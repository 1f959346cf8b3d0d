//! `Daemon::reload` in process: each way a reload is rejected leaves the running config
//! whole and is recorded; a valid one applies. tests/python/test_reload.py checks the same
//! through SIGHUP on the real binary.

use std::path::{Path, PathBuf};

use super::*;
use crate::collectors::NAMES;

/// Only `memory`, on the fixture /proc, listening on an ephemeral port.
fn config_text(memory_interval: &str, extra: &str) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modern");
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[host]\nprocfs = \"{}/proc\"\nsysfs = \"{}/sys\"\n",
        fixture.display(),
        fixture.display()
    );
    for name in NAMES {
        if *name == "memory" {
            text += &format!("[collectors.memory]\ninterval = \"{memory_interval}\"\n");
        } else {
            text += &format!("[collectors.{name}]\nenabled = false\n");
        }
    }
    text + extra
}

struct Fixture {
    _dir: TempDir,
    file: PathBuf,
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("vitals-daemon-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vitals.toml");
        std::fs::write(&file, config_text("30s", "")).unwrap();
        Fixture {
            _dir: TempDir(dir),
            file,
        }
    }

    fn overrides(&self) -> Overrides {
        Overrides {
            file: Some(self.file.clone()),
            ..Overrides::default()
        }
    }

    async fn start(&self) -> Daemon {
        let overrides = self.overrides();
        let config = overrides.load().unwrap();
        Daemon::start(config, overrides, Logging::none())
            .await
            .unwrap()
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.file, text).unwrap();
    }
}

fn reload_ok(d: &Daemon) -> bool {
    d.registry().reload_status().successful
}

#[tokio::test]
async fn a_valid_file_applies_and_is_recorded() {
    let f = Fixture::new("valid");
    let mut d = f.start().await;
    f.write(&config_text("10s", ""));
    let Ok(Reloaded::Applied(changes)) = d.reload().await else {
        panic!("reload rejected")
    };
    assert_eq!(changes.rebuilt, ["memory"]);
    assert!(changes.started.is_empty() && changes.stopped.is_empty());
    assert!(reload_ok(&d));
    d.stop().await;
}

/// A way a reload is rejected: its name, the file's text, the error it must give.
type Rejection = (&'static str, String, fn(&Error) -> bool);

#[tokio::test]
async fn every_rejection_keeps_the_running_config_and_is_recorded() {
    let f = Fixture::new("rejected");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap();
    let cases: [Rejection; 4] = [
        ("unparsable", "[server\n".to_string(), |e| {
            matches!(e, Error::Config(_))
        }),
        (
            "missing web config",
            config_text("10s", "").replace(
                "[server]\n",
                "[server]\nweb_config_file = \"/nonexistent/web.yml\"\n",
            ),
            |e| matches!(e, Error::Web(_)),
        ),
        (
            "unreadable OTLP CA file",
            config_text(
                "10s",
                "[otlp]\nenabled = true\nendpoint = \"https://127.0.0.1:4318/v1/metrics\"\n[otlp.tls]\nca_file = \"/nonexistent/ca.pem\"\n",
            ),
            |e| matches!(e, Error::Unusable(m) if m.starts_with("otlp: ")),
        ),
        (
            "listen address taken",
            config_text("10s", "").replace("127.0.0.1:0", &taken.to_string()),
            |e| matches!(e, Error::Unusable(m) if m.contains("already in use")),
        ),
    ];
    let mut d = f.start().await;
    let before = d.config.clone();
    let addr = d.addr();
    for (what, text, expected) in cases {
        f.write(&text);
        match d.reload().await {
            Err(e) => assert!(expected(&e), "{what}: unexpected error {e}"),
            Ok(r) => panic!("{what}: reload applied: {r:?}"),
        }
        assert!(!reload_ok(&d), "{what}: rejection not recorded");
        assert_eq!(d.config, before, "{what}: config changed");
        assert_eq!(d.addr(), addr, "{what}: listener moved");
        assert_eq!(d.runner.names(), ["memory"], "{what}");
        assert!(d.push.pusher.is_none(), "{what}: pusher started");
        // A valid file afterwards applies again.
        f.write(&config_text("30s", ""));
        assert!(d.reload().await.is_ok(), "{what}");
        assert!(reload_ok(&d));
    }
    d.stop().await;
}

#[tokio::test]
async fn a_new_listen_address_moves_the_listener() {
    let f = Fixture::new("listen");
    let mut d = f.start().await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    f.write(&config_text("30s", "").replace("127.0.0.1:0", &addr.to_string()));
    d.reload().await.unwrap();
    assert_eq!(d.addr(), addr);
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    d.stop().await;
}

#[tokio::test]
async fn without_a_file_there_is_nothing_to_reload() {
    let mut d = Daemon::start(
        Config {
            collectors: toml::from_str(
                &NAMES
                    .iter()
                    .map(|n| format!("[{n}]\nenabled = false\n"))
                    .collect::<String>(),
            )
            .unwrap(),
            server: crate::config::Server {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..Default::default()
            },
            ..Config::default()
        },
        Overrides::default(),
        Logging::none(),
    )
    .await
    .unwrap();
    assert!(matches!(d.reload().await, Ok(Reloaded::NoFile)));
    assert!(reload_ok(&d));
    d.stop().await;
}
