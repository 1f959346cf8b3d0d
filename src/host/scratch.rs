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
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &to);
        } else if kind.is_symlink() {
            // As it is: sysfs links in the fixtures lead back up the tree.
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), to).unwrap();
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}
