//! Replays every fuzz target's inputs on stable Rust, as CI does: the seeds (fixture files
//! picked by fuzz/seeds.txt), every past crash (fuzz/regressions/<target>/) and, when a
//! fuzzing run left one, the local corpus (fuzz/corpus/<target>/), the seeds also cut short
//! and with bytes replaced. The same entry points as the cargo-fuzz targets, so a fixed crash
//! stays fixed without nightly; this is where "no parser panics" is checked.

use std::path::{Path, PathBuf};

use vitals::fuzzing::{TARGETS, run};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The files under `dir`, symbolic links to directories not followed: the fixture trees hold
/// sysfs links that lead back up (`hwmon8/device/hwmon/hwmon8`), a loop if followed.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&p, out),
            Ok(t) if t.is_symlink() && !p.is_file() => {}
            _ => out.push(p),
        }
    }
}

/// (target, regex) lines of fuzz/seeds.txt.
fn seed_patterns() -> Vec<(String, regex::Regex)> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("fuzz/seeds.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let target = parts.next().unwrap().to_string();
            let re = regex::Regex::new(&format!("^(?:{})$", parts.next().unwrap())).unwrap();
            (target, re)
        })
        .collect()
}

/// A host file as a read may find it damaged: cut short (the kernel rewrote it between two
/// reads) at 32 lengths spread over the file, and 64 copies with one byte replaced by a
/// separator, a letter, a byte that is never UTF-8 or a number too long for any integer.
fn damaged(data: &[u8]) -> Vec<Vec<u8>> {
    const REPLACEMENTS: [&[u8]; 8] = [
        b" ",
        b"\n",
        b"x",
        b"-",
        b":",
        b"\xff",
        b"\xc3",
        b"99999999999999999999999",
    ];
    let n = data.len();
    let mut out: Vec<Vec<u8>> = (0..32).map(|k| data[..n * k / 32].to_vec()).collect();
    for k in 0..64.min(n) {
        let i = n * k / 64.min(n);
        let mut d = data[..i].to_vec();
        d.extend_from_slice(REPLACEMENTS[k % REPLACEMENTS.len()]);
        d.extend_from_slice(&data[i + 1..]);
        out.push(d);
    }
    out
}

#[test]
fn every_target_has_a_cargo_fuzz_file_and_seeds() {
    let patterns = seed_patterns();
    for (name, _) in TARGETS {
        let file = Path::new(ROOT).join(format!("fuzz/fuzz_targets/{name}.rs"));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("{} is missing", file.display()));
        assert!(
            text.contains(&format!("run(\"{name}\"")),
            "{}",
            file.display()
        );
        assert!(
            patterns.iter().any(|(t, _)| t == name),
            "fuzz/seeds.txt has no line for {name}"
        );
    }
    assert!(!run("no such target", b""));
}

#[test]
fn seeds_regressions_and_corpus_replay_without_a_panic() {
    let fixtures = Path::new(ROOT).join("tests/fixtures");
    let mut all = Vec::new();
    files_under(&fixtures, &mut all);
    let patterns = seed_patterns();
    let mut total = 0;
    for (name, _) in TARGETS {
        let mut inputs: Vec<PathBuf> = all
            .iter()
            .filter(|p| {
                let rel = p.strip_prefix(&fixtures).unwrap().to_string_lossy();
                patterns
                    .iter()
                    .any(|(t, re)| t == name && re.is_match(&rel))
            })
            .cloned()
            .collect();
        assert!(
            !inputs.is_empty() || *name == "host_sock_diag",
            "no seed for {name}"
        );
        let seeds = inputs.len();
        for dir in ["fuzz/regressions", "fuzz/corpus"] {
            files_under(&Path::new(ROOT).join(dir).join(name), &mut inputs);
        }
        for (i, input) in inputs.iter().enumerate() {
            // A running fuzzer may remove corpus files meanwhile.
            let Ok(data) = std::fs::read(input) else {
                continue;
            };
            assert!(run(name, &data));
            // The host files also damaged, as a read may find them.
            if i < seeds && name.starts_with("host_") {
                for d in damaged(&data) {
                    run(name, &d);
                    total += 1;
                }
            }
        }
        total += inputs.len();
    }
    eprintln!("replayed {total} inputs through {} targets", TARGETS.len());
}
