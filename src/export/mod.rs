//! Exporters: encodings of published snapshots, and the HTTP endpoint that serves them.

pub mod auth;
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
