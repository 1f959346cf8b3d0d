//! The real binary over real HTTP, shared by the integration tests: a daemon on a loopback
//! port with its log lines, and raw HTTP/1.1 requests to it.
#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_vitals");

/// Polls `condition` until it holds, failing the test naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Daemon {
    pub child: Child,
    pub addr: String,
    pub logs: mpsc::Receiver<String>,
}

impl Daemon {
    pub fn start(config: &str) -> Daemon {
        let dir = std::env::temp_dir().join(format!(
            "vitals-daemon-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("vitals.toml");
        std::fs::write(&cfg, config).unwrap();
        let mut child = Command::new(BIN)
            .arg("--config")
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0", "--log-format", "text"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting vitals");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Owned by a Daemon from here, so a failure below still kills and reaps it.
        let mut daemon = Daemon {
            child,
            addr: String::new(),
            logs: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while daemon.addr.is_empty() {
            let line = daemon
                .logs
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("no listening line in the log");
            if let Some(rest) = line.split("addr=").nth(1) {
                daemon.addr = rest.split_whitespace().next().unwrap().to_string();
            }
        }
        daemon
    }

    pub fn request(&self, raw: &str) -> Response {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut bytes = Vec::new();
        s.read_to_end(&mut bytes).unwrap();
        Response::parse(&bytes)
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n"
        ))
    }

    pub fn wait_ready(&self) {
        wait_for("ready", Duration::from_secs(10), || {
            self.get("/readyz", &[]).status == 200
        });
    }

    pub fn terminate(mut self) -> (std::process::ExitStatus, Duration, Vec<String>) {
        let start = Instant::now();
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "still running 10 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        (status, start.elapsed(), self.logs.try_iter().collect())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn parse(bytes: &[u8]) -> Response {
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("no header end");
        let head = String::from_utf8_lossy(&bytes[..split]).to_string();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Response {
            status,
            headers,
            body: bytes[split + 4..].to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}
