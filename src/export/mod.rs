//! Exporters: encodings of published snapshots, and the HTTP endpoint that serves them.

pub mod auth;
pub mod chunks;
pub mod http;
pub mod openmetrics;
pub mod server;
pub mod text;
pub mod tls;
pub mod webconfig;

/// A value as both text formats write it: integers without a fraction, non-finite values as
/// `NaN`, `+Inf`, `-Inf`.
pub(crate) fn write_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9.0e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A body gzipped the way both exporters send it: flate2's fast level, which halves the
/// cost of the default level for a few per cent more bytes on metric text.
pub fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(body);
    gz.finish().unwrap_or_default()
}
