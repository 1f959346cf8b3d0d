//! Tests only: a copy of a fixture tree that a test may rewrite, removed when dropped.

use std::path::{Path, PathBuf};

use super::HostPaths;

pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `tests/fixtures/<fixture>` copied under the temporary directory, named after `test`.
    pub fn of(fixture: &str, test: &str) -> Scratch {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture);
        let dst = std::env::temp_dir().join(format!("vitals-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dst);
        copy_dir(&src, &dst);
        Scratch(dst)
    }

    pub fn paths(&self) -> HostPaths {
        HostPaths::under(&self.0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}
