//! Records the git revision and rustc version for `vitals_build_info`, and links the daemon
//! with packed relative relocations where glibc supports them.
use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let revision = std::env::var("VITALS_GIT_REVISION")
        .ok()
        .or_else(|| output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=VITALS_GIT_REVISION={revision}");
    println!("cargo:rustc-env=VITALS_RUSTC_VERSION={rustc_version}");
    // Where git keeps them: `.git` is a file in a worktree, and a path that does not exist
    // would make cargo rerun this script, and rebuild the crate, on every build.
    for what in ["HEAD", "refs", "packed-refs"] {
        if let Some(path) = output("git", &["rev-parse", "--git-path", what])
            .filter(|p| std::path::Path::new(p).exists())
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-env-changed=VITALS_GIT_REVISION");
    // DT_RELR: the PIE's ~17,000 relative relocations as a 5 KB bitmap instead of a 405 KB
    // table that the loader reads at every start and that then stays resident (0.4 MiB of
    // RSS; docs/performance.md, "Memory and binary size"). Needs glibc 2.36 where the daemon
    // runs and a linker that knows the flag (rust-lld, GNU ld 2.38); VITALS_RELR=0 turns it off
    // for older systems.
    println!("cargo:rerun-if-env-changed=VITALS_RELR");
    let gnu_linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if gnu_linux && std::env::var("VITALS_RELR").as_deref() != Ok("0") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
