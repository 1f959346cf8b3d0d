//! The HTTP listener: binding the configured address, and the server task on it.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Error;
use crate::export::{http, server};

/// Binds the listen address; a failure names the key (and `--listen` when the flag set it)
/// and says why.
pub async fn bind(addr: SocketAddr, from_flag: bool) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => "the address is already in use".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)".to_string()
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "no interface of this host has that address".to_string()
            }
            _ => e.to_string(),
        };
        let from = if from_flag { " (from --listen)" } else { "" };
        Error::Unusable(format!("server.listen = \"{addr}\"{from}: {why}"))
    })
}

/// One HTTP server on one listener; a reload that moves the address starts another.
pub struct Server {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    handle: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub fn spawn(
        listener: TcpListener,
        state: http::AppState,
        limits: server::Limits,
    ) -> Result<Server, Error> {
        let addr = listener.local_addr().map_err(|source| Error::Io {
            doing: "reading the bound address",
            source,
        })?;
        let (stop, stop_rx) = watch::channel(false);
        let handle = tokio::spawn(server::serve(listener, state, limits, stop_rx));
        Ok(Server { addr, stop, handle })
    }

    /// Stops accepting; connections in flight finish (await [`Server::stopped`]).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// The server task's end, once [`Server::stop`] was called.
    pub async fn stopped(self) -> Result<std::io::Result<()>, tokio::task::JoinError> {
        self.handle.await
    }
}
