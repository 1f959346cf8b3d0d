//! OTLP over gRPC from the real binary to a real tonic `MetricsServiceServer` (the server
//! opentelemetry-proto generates): requests arrive with the configured header, gzip on and
//! off, documented kinds, and values equal to the /metrics scrape of the same snapshot; over
//! TLS with a private CA and a client certificate (mTLS).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};

mod common;
use common::{Daemon, wait_for};

/// A request with the `x-tenant` header and the `grpc-encoding` it came with.
type Received = (ExportMetricsServiceRequest, Option<String>, Option<String>);

#[derive(Default, Clone)]
struct Store(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl MetricsService for Store {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let meta = request.metadata();
        let header = meta
            .get("x-tenant")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let encoding = meta
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        self.0
            .lock()
            .unwrap()
            .push((request.into_inner(), header, encoding));
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// A gRPC receiver on a loopback port, on its own runtime thread.
fn receiver() -> (Store, u16) {
    receiver_with(None)
}

/// The same, over TLS when `tls` is given.
fn receiver_with(tls: Option<tonic::transport::ServerTlsConfig>) -> (Store, u16) {
    let store = Store::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let service = store.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let mut server = tonic::transport::Server::builder();
            if let Some(tls) = tls {
                server = server.tls_config(tls).unwrap();
            }
            server
                .add_service(
                    MetricsServiceServer::new(service)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                )
                .serve_with_incoming(incoming)
                .await
                .unwrap();
        });
    });
    (store, port)
}

fn received(store: &Store, n: usize) {
    wait_for("OTLP requests over gRPC", Duration::from_secs(20), || {
        store.0.lock().unwrap().len() >= n
    });
}

/// The value /metrics shows for a sample line starting with `prefix` (name and labels).
fn scraped(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn grpc_config(port: u16, compression: &str) -> String {
    let slow: String = ["cpu", "memory", "disk", "network", "filesystem", "host"]
        .iter()
        .map(|c| format!("[collectors.{c}]\ninterval = \"1h\"\n"))
        .collect();
    format!(
        "{slow}[otlp]\nenabled = true\nprotocol = \"grpc\"\nendpoint = \"127.0.0.1:{port}\"\ninterval = \"500ms\"\ntimeout = \"500ms\"\ncompression = \"{compression}\"\nheaders = {{ x-tenant = \"team-a\" }}\n"
    )
}

/// A gRPC receiver on `port` (0: any) that serves until `stop` is sent, then frees the port.
fn receiver_until(
    store: Store,
    port: u16,
) -> (
    u16,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            tonic::transport::Server::builder()
                .add_service(
                    MetricsServiceServer::new(store)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                )
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    (port, stop, handle)
}

/// The push a request came from: the time of its own self-metrics snapshot (the one the
/// registry makes at each gather), unique per push.
fn identity(request: &ExportMetricsServiceRequest) -> u64 {
    request.resource_metrics[0]
        .scope_metrics
        .iter()
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == "vitals.otlp.exports")
        .and_then(|m| match &m.data {
            Some(metric::Data::Sum(s)) => s.data_points.first().map(|p| p.time_unix_nano),
            Some(metric::Data::Gauge(g)) => g.data_points.first().map(|p| p.time_unix_nano),
            _ => None,
        })
        .expect("self-metrics in every request")
}

#[test]
fn grpc_receiver_down_for_a_while_gets_every_push_afterwards() {
    let store = Store::default();
    let (port, stop, handle) = receiver_until(store.clone(), 0);
    let config = grpc_config(port, "gzip").replace(
        "interval = \"500ms\"\ntimeout = \"500ms\"",
        "interval = \"1s\"\ntimeout = \"800ms\"",
    ) + "[otlp.queue]\ndrain_rate = 4\n";
    let d = Daemon::start(&config);
    received(&store, 2);
    let _ = stop.send(());
    handle.join().unwrap();
    let down = Instant::now();
    let queued = |d: &Daemon| {
        scraped(
            &d.get("/metrics", &[]).text(),
            "vitals_otlp_queue_requests ",
        )
        .unwrap_or(0.0)
    };
    wait_for("10 pushes queued", Duration::from_secs(30), || {
        queued(&d) >= 10.0
    });
    let outage = down.elapsed().as_secs_f64();
    let (_, stop, handle) = receiver_until(store.clone(), port);
    wait_for("the backlog drained", Duration::from_secs(40), || {
        queued(&d) == 0.0
    });
    let _ = stop.send(());
    handle.join().unwrap();
    let mut ids: Vec<u64> = store
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| identity(&r.0))
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert!(n - ids.len() <= 1, "{} requests sent twice", n - ids.len());
    let worst = ids.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        worst < 1_500_000_000,
        "a push is missing: a gap of {worst} ns"
    );
    assert!(
        ids.len() as f64 >= 2.0 + outage - 1.0,
        "{} pushes for a {outage:.1} s outage",
        ids.len()
    );
}

#[test]
fn grpc_exports_arrive_with_the_scraped_values() {
    for compression in ["gzip", "none"] {
        let (store, port) = receiver();
        let d = Daemon::start(&grpc_config(port, compression));
        received(&store, 3);
        let body = d.get("/metrics", &[]).text();
        let (request, header, encoding) = store.0.lock().unwrap().last().cloned().unwrap();
        assert_eq!(header.as_deref(), Some("team-a"));
        assert_eq!(
            encoding.as_deref(),
            (compression == "gzip").then_some("gzip"),
            "grpc-encoding"
        );
        let metrics: Vec<_> = request.resource_metrics[0]
            .scope_metrics
            .iter()
            .flat_map(|s| &s.metrics)
            .collect();
        let cpu = metrics
            .iter()
            .find(|m| m.name == "system.cpu.time")
            .expect("system.cpu.time");
        assert_eq!(cpu.unit, "s");
        let Some(metric::Data::Sum(sum)) = &cpu.data else {
            panic!("system.cpu.time is a sum")
        };
        assert!(sum.is_monotonic);
        let mut compared = 0;
        for p in &sum.data_points {
            let mut mode = String::new();
            let mut cpu_n = None;
            for a in &p.attributes {
                match (
                    a.key.as_str(),
                    a.value.as_ref().and_then(|v| v.value.clone()),
                ) {
                    ("cpu.mode", Some(any_value::Value::StringValue(s))) => mode = s,
                    ("cpu.logical_number", Some(any_value::Value::IntValue(i))) => cpu_n = Some(i),
                    other => panic!("unexpected attribute {other:?}"),
                }
            }
            let Some(number_data_point::Value::AsDouble(v)) = p.value else {
                panic!("a double")
            };
            let prefix = format!(
                "system_cpu_time_seconds_total{{cpu_mode=\"{mode}\",cpu_logical_number=\"{}\"}}",
                cpu_n.expect("an int cpu number")
            );
            assert_eq!(scraped(&body, &prefix), Some(v), "{prefix}");
            compared += 1;
        }
        assert!(compared >= 8, "{compared}");
        let limit = metrics
            .iter()
            .find(|m| m.name == "system.memory.limit")
            .expect("system.memory.limit");
        let Some(metric::Data::Sum(sum)) = &limit.data else {
            panic!("an up-down counter is a sum")
        };
        assert!(!sum.is_monotonic);
        let Some(number_data_point::Value::AsDouble(v)) = sum.data_points[0].value else {
            panic!("a double")
        };
        assert_eq!(scraped(&body, "system_memory_limit_bytes "), Some(v));
    }
}

/// A test CA, a server certificate for 127.0.0.1 and a client certificate it signed, as PEM
/// files in `dir`: (ca, server cert, server key, client cert, client key).
fn test_pki(dir: &std::path::Path) -> [std::path::PathBuf; 5] {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server, server_key) = leaf("127.0.0.1");
    let (client, client_key) = leaf("vitals-client");
    std::fs::create_dir_all(dir).unwrap();
    let files = [
        ("ca.pem", ca.pem()),
        ("server.pem", server),
        ("server.key", server_key),
        ("client.pem", client),
        ("client.key", client_key),
    ];
    files.map(|(name, text)| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    })
}

#[test]
fn grpc_over_mtls_with_a_private_ca() {
    let dir = std::env::temp_dir().join(format!("vitals-grpc-tls-{}", std::process::id()));
    let [ca, server, server_key, client, client_key] = test_pki(&dir);
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            read(&server),
            read(&server_key),
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(read(&ca)));
    let (store, port) = receiver_with(Some(tls));
    let config = grpc_config(port, "gzip").replace(
        &format!("endpoint = \"127.0.0.1:{port}\""),
        &format!("endpoint = \"https://127.0.0.1:{port}\""),
    );
    let tls_section = format!(
        "[otlp.tls]\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        ca.display(),
        client.display(),
        client_key.display()
    );
    let d = Daemon::start(&format!("{config}{tls_section}"));
    received(&store, 2);
    let (request, header, _) = store.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(header.as_deref(), Some("team-a"));
    assert!(!request.resource_metrics.is_empty());
    drop(d);

    // Without the client certificate the receiver refuses the handshake: failures, counted.
    let (store, port) = receiver_with(Some(
        tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(
                read(&server),
                read(&server_key),
            ))
            .client_ca_root(tonic::transport::Certificate::from_pem(read(&ca))),
    ));
    let config = grpc_config(port, "none").replace(
        &format!("endpoint = \"127.0.0.1:{port}\""),
        &format!("endpoint = \"https://127.0.0.1:{port}\""),
    );
    let d = Daemon::start(&format!(
        "{config}[otlp.tls]\nca_file = \"{}\"\n",
        ca.display()
    ));
    wait_for(
        "two failed exports counted",
        Duration::from_secs(20),
        || {
            let body = d.get("/metrics", &[]).text();
            scraped(&body, "vitals_otlp_exports_total{outcome=\"failure\"}").unwrap_or(0.0) >= 2.0
        },
    );
    assert!(store.0.lock().unwrap().is_empty());
}

#[test]
fn a_ca_file_without_a_certificate_is_refused_for_grpc_too() {
    let dir = std::env::temp_dir().join(format!("vitals-grpc-nopem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("empty.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let config = format!(
        "[otlp]\nenabled = true\nprotocol = \"grpc\"\nendpoint = \"https://127.0.0.1:1\"\n[otlp.tls]\nca_file = \"{}\"\n",
        ca.display()
    );
    let cfg = dir.join("vitals.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no PEM certificate"), "{stderr}");
}
