//! Grouping rules: `[[collectors.processes.group]]` tables. A rule has selectors (comm, exe,
//! cmdline, user, cgroup; any value of a selector may match, every selector given must) and a
//! name template. Rules are tried in order and the first that matches names the group.
//! Regular expressions and templates are checked while the config is parsed, so a mistake is
//! reported with its line.

use regex::bytes::{Captures, Regex};
use serde::{Deserialize, Deserializer};

use crate::host::bytes::escape;
use crate::host::proc_pid_cmdline::basename;

/// The kernel's limit on a process's comm: longer values can never match.
const COMM_MAX: usize = 15;

/// A regular expression searched anywhere in a byte string (not anchored), with named
/// captures for the template.
#[derive(Debug, Clone)]
pub struct BytesPattern(Regex);

impl BytesPattern {
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        Regex::new(pattern).map(BytesPattern)
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.0.capture_names().flatten()
    }
}

impl PartialEq for BytesPattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl<'de> Deserialize<'de> for BytesPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BytesPattern::new(&s)
            .map_err(|e| serde::de::Error::custom(format!("invalid regular expression {s:?}: {e}")))
    }
}

/// One piece of a name template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Comm,
    /// psutil's `name()`: the full name where comm was cut at 15 bytes.
    Name,
    Exe,
    User,
    Cgroup,
    /// A named capture of the rule's cmdline or cgroup expression.
    Capture(String),
}

/// A group name template: text with `{comm}`, `{name}`, `{exe}`, `{user}`, `{cgroup}` and
/// `{capture}` placeholders; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<Part>);

impl Template {
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                            _ => {
                                return Err(format!(
                                    "name template {s:?}: a placeholder is a word in braces, like {{comm}}"
                                ));
                            }
                        }
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(match name.as_str() {
                        "comm" => Part::Comm,
                        "name" => Part::Name,
                        "exe" => Part::Exe,
                        "user" => Part::User,
                        "cgroup" => Part::Cgroup,
                        "" => return Err(format!("name template {s:?}: empty placeholder {{}}")),
                        _ => Part::Capture(name),
                    });
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        if parts.is_empty() {
            return Err("the group name must not be empty".into());
        }
        Ok(Template(parts))
    }

    fn uses(&self, part: &Part) -> bool {
        self.0.contains(part)
    }
}

/// What is known of a process when it is matched. `argv0` and `cmdline` are empty unless a
/// rule needs them, `cgroup` likewise.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// comm as a label value (escaped when not UTF-8).
    pub comm: &'a str,
    /// psutil's `name()` as a label value: comm, or the full name when comm was cut.
    pub name: &'a str,
    pub argv0: &'a [u8],
    /// The arguments joined by spaces.
    pub cmdline: &'a [u8],
    /// The user name (or the uid when it has none) as a label value; empty when unknown.
    pub user: &'a str,
    pub cgroup: &'a [u8],
}

/// One `[[collectors.processes.group]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RuleToml")]
pub struct Rule {
    pub name: Template,
    pub comm: Vec<String>,
    pub exe: Vec<String>,
    pub cmdline: Vec<BytesPattern>,
    pub user: Vec<String>,
    pub cgroup: Vec<BytesPattern>,
    /// Every process of the group gets per-process series (up to `max_processes`).
    pub per_process: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleToml {
    #[serde(default = "default_name")]
    name: String,
    #[serde(default)]
    comm: Vec<String>,
    #[serde(default)]
    exe: Vec<String>,
    #[serde(default)]
    cmdline: Vec<BytesPattern>,
    #[serde(default)]
    user: Vec<String>,
    #[serde(default)]
    cgroup: Vec<BytesPattern>,
    #[serde(default)]
    per_process: bool,
}

fn default_name() -> String {
    "{comm}".into()
}

impl TryFrom<RuleToml> for Rule {
    type Error = String;

    fn try_from(t: RuleToml) -> Result<Rule, String> {
        let name = Template::parse(&t.name)?;
        for part in &name.0 {
            if let Part::Capture(c) = part
                && !t
                    .cmdline
                    .iter()
                    .chain(&t.cgroup)
                    .any(|p| p.names().any(|n| n == c))
            {
                return Err(format!(
                    "name template {:?}: {{{c}}} is not a named capture (?P<{c}>...) of this rule's cmdline or cgroup expressions",
                    t.name
                ));
            }
        }
        if let Some(long) = t.comm.iter().find(|c| c.len() > COMM_MAX) {
            return Err(format!(
                "comm {long:?} is longer than the kernel's 15 bytes and would never match: use {:?}, or match exe or cmdline",
                truncate(long, COMM_MAX)
            ));
        }
        Ok(Rule {
            name,
            comm: t.comm,
            exe: t.exe,
            cmdline: t.cmdline,
            user: t.user,
            cgroup: t.cgroup,
            per_process: t.per_process,
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Which facts the rules need beyond comm and uid, so that only those files are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub cmdline: bool,
    pub cgroup: bool,
    pub user: bool,
}

pub fn needs(rules: &[Rule]) -> Needs {
    let mut n = Needs::default();
    for r in rules {
        n.cmdline |= !r.exe.is_empty()
            || !r.cmdline.is_empty()
            || r.name.uses(&Part::Exe)
            || r.name.uses(&Part::Name);
        n.cgroup |= !r.cgroup.is_empty() || r.name.uses(&Part::Cgroup);
        n.user |= !r.user.is_empty() || r.name.uses(&Part::User);
    }
    n
}

impl Rule {
    /// The group name when every given selector matches `f`.
    pub fn apply(&self, f: &Facts) -> Option<String> {
        if !self.comm.is_empty() && !self.comm.iter().any(|c| c == f.comm) {
            return None;
        }
        if !self.exe.is_empty() {
            if f.argv0.is_empty() {
                return None;
            }
            let full = escape(f.argv0);
            let base = escape(basename(f.argv0));
            let hit = self.exe.iter().any(|e| {
                if e.contains('/') {
                    *e == *full
                } else {
                    *e == *base
                }
            });
            if !hit {
                return None;
            }
        }
        if !self.user.is_empty() && !self.user.iter().any(|u| u == f.user) {
            return None;
        }
        let cmdline = first_match(&self.cmdline, f.cmdline)?;
        let cgroup = first_match(&self.cgroup, f.cgroup)?;
        let mut name = String::new();
        for part in &self.name.0 {
            match part {
                Part::Text(t) => name.push_str(t),
                Part::Comm => name.push_str(f.comm),
                Part::Name => name.push_str(f.name),
                Part::Exe => name.push_str(&escape(basename(f.argv0))),
                Part::User => name.push_str(f.user),
                Part::Cgroup => name.push_str(&escape(f.cgroup)),
                Part::Capture(c) => {
                    let hit = [&cmdline, &cgroup]
                        .into_iter()
                        .flatten()
                        .find_map(|caps| caps.name(c));
                    if let Some(m) = hit {
                        name.push_str(&escape(m.as_bytes()));
                    }
                }
            }
        }
        if name.is_empty() {
            name.push_str(f.comm);
        }
        Some(name)
    }
}

/// `Some(None)` when there is no expression (the selector is not given), `Some(captures)` of
/// the first expression that matches, `None` when none does.
fn first_match<'h>(patterns: &[BytesPattern], haystack: &'h [u8]) -> Option<Option<Captures<'h>>> {
    if patterns.is_empty() {
        return Some(None);
    }
    patterns
        .iter()
        .find_map(|p| p.0.captures(haystack))
        .map(Some)
}

/// The first rule's name for `f`, if any rule matches.
pub fn group_name(rules: &[Rule], f: &Facts) -> Option<String> {
    matching_rule(rules, f).map(|(name, _)| name)
}

/// The first rule that matches `f`, with the name it gives.
pub fn matching_rule<'r>(rules: &'r [Rule], f: &Facts) -> Option<(String, &'r Rule)> {
    rules.iter().find_map(|r| r.apply(f).map(|n| (n, r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct T {
        group: Vec<Rule>,
    }

    fn rules(text: &str) -> Vec<Rule> {
        toml::from_str::<T>(text).unwrap().group
    }

    fn err(text: &str) -> String {
        toml::from_str::<T>(text).unwrap_err().to_string()
    }

    #[test]
    fn templates() {
        assert_eq!(
            Template::parse("app-{comm}/{cfg}{{x}}").unwrap().0,
            vec![
                Part::Text("app-".into()),
                Part::Comm,
                Part::Text("/".into()),
                Part::Capture("cfg".into()),
                Part::Text("{x}".into()),
            ]
        );
        assert!(Template::parse("{comm").is_err());
        assert!(Template::parse("{a b}").is_err());
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("").is_err());
    }

    #[test]
    fn full_name_template_and_per_process() {
        let r = rules(
            "[[group]]\nname = \"svc-{name}\"\ncomm = [\"averyveryverylo\"]\nper_process = true\n\
             [[group]]\ncomm = [\"b\"]\n",
        );
        assert!(needs(&r).cmdline, "{{name}} may need the cmdline");
        let f = Facts {
            comm: "averyveryverylo",
            name: "averyveryverylongname",
            ..Facts::default()
        };
        let (name, rule) = matching_rule(&r, &f).unwrap();
        assert_eq!(name, "svc-averyveryverylongname");
        assert!(rule.per_process);
        let f = Facts {
            comm: "b",
            name: "b",
            ..Facts::default()
        };
        assert!(!matching_rule(&r, &f).unwrap().1.per_process, "off by default");
    }

    #[test]
    fn selectors_all_given_must_match() {
        let r = rules(
            r#"
[[group]]
name = "web"
comm = ["nginx", "apache2"]
user = ["www-data"]

[[group]]
name = "pg-{user}"
exe = ["postgres", "/usr/local/bin/pgbouncer"]

[[group]]
name = "java:{cfg}"
cmdline = ['--config=(?P<cfg>\S+)']

[[group]]
name = "{unit}"
cgroup = ['/system.slice/(?P<unit>[^/]+)\.service']
"#,
        );
        let f = Facts {
            comm: "nginx",
            user: "www-data",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f).as_deref(), Some("web"));
        let f = Facts {
            comm: "nginx",
            user: "root",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f), None);
        let f = Facts {
            comm: "postgres",
            argv0: b"/usr/lib/postgresql/16/bin/postgres",
            user: "postgres",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f).as_deref(), Some("pg-postgres"));
        // A pattern with a slash matches the whole argv[0], not its basename.
        let f = Facts {
            comm: "pgbouncer",
            argv0: b"/usr/bin/pgbouncer",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f), None);
        let f = Facts {
            comm: "pgbouncer",
            argv0: b"/usr/local/bin/pgbouncer",
            user: "u",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f).as_deref(), Some("pg-u"));
        let f = Facts {
            comm: "java",
            argv0: b"java",
            cmdline: b"java -jar app.jar --config=/etc/app.yml",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f).as_deref(), Some("java:/etc/app.yml"));
        let f = Facts {
            comm: "sshd",
            cgroup: b"/system.slice/ssh.service",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f).as_deref(), Some("ssh"));
        let f = Facts {
            comm: "bash",
            cgroup: b"/user.slice/user-1000.slice/session-1.scope",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f), None);
    }

    #[test]
    fn no_selector_matches_everything_and_names_escape() {
        let r = rules("[[group]]\nname = \"{exe}@{comm}\"\n");
        let f = Facts {
            comm: r"caf\xe9",
            argv0: b"/opt/caf\xe9",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f).as_deref(), Some(r"caf\xe9@caf\xe9"));
        assert_eq!(
            needs(&r),
            Needs {
                cmdline: true,
                cgroup: false,
                user: false
            }
        );
        // The default name is the comm.
        let r = rules("[[group]]\nuser = [\"root\"]\n");
        let f = Facts {
            comm: "cron",
            user: "root",
            ..Facts::default()
        };
        assert_eq!(group_name(&r, &f).as_deref(), Some("cron"));
    }

    #[test]
    fn mistakes_name_their_line() {
        let e = err("[[group]]\nname = \"{cfg}\"\ncmdline = ['--x=(?P<other>.*)']\n");
        assert!(e.contains("{cfg}") && e.contains("line 1"), "{e}");
        let e = err("[[group]]\ncomm = [\"systemd-journald\"]\n");
        assert!(e.contains("systemd-journal\""), "{e}");
        let e = err("[[group]]\n\ncmdline = ['(']\n");
        assert!(
            e.contains("invalid regular expression") && e.contains("line 3"),
            "{e}"
        );
        let e = err("[[group]]\nnmae = \"x\"\n");
        assert!(e.contains("nmae") && e.contains("line 2"), "{e}");
    }
}
