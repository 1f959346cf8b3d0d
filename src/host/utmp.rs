//! Login sessions: psutil's `users()`, which walks glibc's `getutxent()` over `/var/run/utmp`
//! and keeps the `USER_PROCESS` records. The records are parsed here from their bytes (glibc's
//! layout on 64-bit Linux, also used by 32-bit x86 with the 64-bit time compat: 384 bytes,
//! native endianness).
//!
//! psutil's fields: `user` is `ut_user` up to its first NUL, `terminal` `ut_line` (None when
//! empty), `host` `ut_host` where an empty host, `:0` and `:0.0` become `localhost`, `started`
//! `ut_tv.tv_sec`, `pid` `ut_pid`. A field that is not UTF-8 is escaped as
//! [`super::bytes::escape`] escapes host names (psutil decodes with the filesystem encoding,
//! surrogateescape).

/// Size of one `struct utmpx` record.
pub const RECORD: usize = 384;

/// The most records vitals reads from a utmp file (48 MiB; more is a parse error, see
/// [`super::Limit::Utmp`]). login and sshd reuse the record of a terminal line, so a file
/// holds about one record per line ever used: a few thousand under the kernel's default of
/// 4,096 pseudo-terminals (`kernel.pty.max`), thirty-fold below this.
pub const MAX_RECORDS: usize = 131_072;

/// `ut_type` of a logged-in user's session.
pub const USER_PROCESS: i16 = 7;
/// `ut_type` of a session that ended (what `who` no longer shows).
pub const DEAD_PROCESS: i16 = 8;

const OFF_TYPE: usize = 0;
const OFF_PID: usize = 4;
const OFF_LINE: usize = 8;
const LEN_LINE: usize = 32;
const OFF_ID: usize = 40;
const OFF_USER: usize = 44;
const LEN_USER: usize = 32;
const OFF_HOST: usize = 76;
const LEN_HOST: usize = 256;
const OFF_TV_SEC: usize = 340;

/// One raw record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub ut_type: i16,
    pub pid: i32,
    pub line: String,
    pub id: [u8; 4],
    pub user: String,
    pub host: String,
    pub tv_sec: i32,
}

/// One of psutil's `suser` tuples.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub terminal: Option<String>,
    pub host: String,
    pub started: f64,
    pub pid: i32,
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    super::bytes::escape(&bytes[..end]).into_owned()
}

fn i32_at(b: &[u8], off: usize) -> i32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&b[off..off + 4]);
    i32::from_ne_bytes(raw)
}

/// Every whole record in `data`; a trailing partial record is ignored, as glibc does.
pub fn parse_records(data: &[u8]) -> Vec<Record> {
    data.chunks_exact(RECORD)
        .map(|r| {
            let mut id = [0u8; 4];
            id.copy_from_slice(&r[OFF_ID..OFF_ID + 4]);
            Record {
                ut_type: i16::from_ne_bytes([r[OFF_TYPE], r[OFF_TYPE + 1]]),
                pid: i32_at(r, OFF_PID),
                line: c_string(&r[OFF_LINE..OFF_LINE + LEN_LINE]),
                id,
                user: c_string(&r[OFF_USER..OFF_USER + LEN_USER]),
                host: c_string(&r[OFF_HOST..OFF_HOST + LEN_HOST]),
                tv_sec: i32_at(r, OFF_TV_SEC),
            }
        })
        .collect()
}

/// psutil's `users()` from the bytes of a utmp file.
pub fn users(data: &[u8]) -> Vec<User> {
    parse_records(data)
        .into_iter()
        .filter(|r| r.ut_type == USER_PROCESS)
        .map(|r| User {
            host: match r.host.as_str() {
                "" | ":0" | ":0.0" => "localhost".to_string(),
                _ => r.host,
            },
            terminal: (!r.line.is_empty()).then_some(r.line),
            name: r.user,
            started: f64::from(r.tv_sec),
            pid: r.pid,
        })
        .collect()
}

/// Encodes one record in the same layout: for test fixtures (`vitals` never writes utmp).
pub fn encode_record(r: &Record) -> [u8; RECORD] {
    let mut out = [0u8; RECORD];
    out[OFF_TYPE..OFF_TYPE + 2].copy_from_slice(&r.ut_type.to_ne_bytes());
    out[OFF_PID..OFF_PID + 4].copy_from_slice(&r.pid.to_ne_bytes());
    let put = |out: &mut [u8; RECORD], off: usize, len: usize, s: &str| {
        let b = s.as_bytes();
        let n = b.len().min(len);
        out[off..off + n].copy_from_slice(&b[..n]);
    };
    put(&mut out, OFF_LINE, LEN_LINE, &r.line);
    out[OFF_ID..OFF_ID + 4].copy_from_slice(&r.id);
    put(&mut out, OFF_USER, LEN_USER, &r.user);
    put(&mut out, OFF_HOST, LEN_HOST, &r.host);
    out[OFF_TV_SEC..OFF_TV_SEC + 4].copy_from_slice(&r.tv_sec.to_ne_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/modern/var/run/utmp");

    #[test]
    fn fixture_keeps_user_processes_only() {
        let records = parse_records(FIXTURE);
        assert!(records.iter().any(|r| r.ut_type == DEAD_PROCESS));
        assert!(records.iter().any(|r| r.ut_type == 0));
        let u = users(FIXTURE);
        let got: Vec<(&str, Option<&str>, &str)> = u
            .iter()
            .map(|u| (u.name.as_str(), u.terminal.as_deref(), u.host.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("alice", Some("tty1"), "localhost"),
                ("bob", Some("pts/0"), "203.0.113.7"),
                ("alice", Some("pts/1"), "localhost"),
                ("carol", Some("pts/2"), "build-01.example.net"),
            ]
        );
        assert_eq!(u[1].pid, 2301);
        assert_eq!(u[1].started, 1_763_700_000.0);
    }

    #[test]
    fn fields_that_are_not_utf8_are_escaped() {
        let mut raw = encode_record(&Record {
            ut_type: USER_PROCESS,
            pid: 1,
            line: "pts/3".into(),
            id: *b"ts/3",
            user: "jos".into(),
            host: String::new(),
            tv_sec: 0,
        });
        raw[OFF_USER + 3] = 0xe9;
        assert_eq!(users(&raw)[0].name, r"jos\xe9");
    }

    #[test]
    fn a_truncated_record_is_ignored() {
        assert_eq!(parse_records(&FIXTURE[..RECORD + 10]).len(), 1);
        assert!(users(&[0u8; 100]).is_empty());
    }
}
