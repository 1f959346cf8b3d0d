//! The pusher's types in a build without the `otlp` feature. None can be made: the config
//! refuses an enabled push ([`super::settings::resolve`]) and [`transport::Transport`] has no
//! value, so the daemon's push code compiles unchanged and never starts a pusher.

use std::sync::Arc;

use super::settings::{NOT_BUILT, Otlp};
use crate::host::HostPaths;
use crate::registry::Registry;
use crate::snapshot::Snapshot;

pub mod transport {
    use super::{NOT_BUILT, Otlp};

    /// No transport exists without the feature.
    pub enum Transport {}

    impl Transport {
        pub fn new(_: &Otlp) -> Result<Transport, String> {
            Err(NOT_BUILT.to_string())
        }
    }
}

/// Never made: [`start`] needs a transport, which cannot exist.
pub struct Pusher;

impl Pusher {
    pub async fn stop(self, _flush: bool) {}

    pub fn abandon(self) {}
}

/// Nothing to count: shown only once a pusher starts, which never happens.
#[derive(Default)]
pub struct Stats {}

impl Stats {
    pub fn write(&self, _: &mut Snapshot) {}
}

pub fn start(
    _: &Otlp,
    transport: transport::Transport,
    _: &HostPaths,
    _: Arc<Registry>,
    _: Arc<Stats>,
    _: u64,
) -> Pusher {
    match transport {}
}
