//! The kinds of error a collection can end in or count: a leaf that the host readers, the
//! snapshots, the runner and the self-metrics all name.

/// Every kind of error a collector can report: the `kind` label of
/// `vitals_collector_errors_total`, each shown from zero so that `increase()` alerts work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// A host file or call could not be read.
    Read,
    /// A host file did not hold what its format says.
    Parse,
    /// A collection, or one part of it (a mount's statvfs), did not finish in time.
    Timeout,
    /// A collection panicked (a bug: the collector goes on at its next tick).
    Panic,
    /// A helper thread or process could not be started.
    Thread,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Read,
        ErrorKind::Parse,
        ErrorKind::Timeout,
        ErrorKind::Panic,
        ErrorKind::Thread,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Read => "read",
            ErrorKind::Parse => "parse",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Panic => "panic",
            ErrorKind::Thread => "thread",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
