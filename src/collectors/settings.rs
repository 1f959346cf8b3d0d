//! The settings every collector has (`enabled`, `interval`, `timeout`), for collectors that
//! add only simple fields: `plain_settings!(interval_secs, timeout_secs)` defines `Settings`
//! with those defaults, serde's `deny_unknown_fields`, and its [`CollectorSettings`]; extra
//! fields follow as `/// doc` `name: Type = default`. A collector whose keys depend on each
//! other starts with `check = path;`, a `fn(&Settings) -> Result<(), Invalid>` run when the
//! config is loaded.

use super::Schedule;

/// A collector's section that is well-formed but unusable: the key (inside the section) and
/// why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: &'static str,
    pub message: String,
}

/// What the collector table needs of every collector's settings.
pub trait CollectorSettings {
    fn schedule(&self) -> Schedule;

    /// Checks across the section's keys, run once when the config is loaded.
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

macro_rules! plain_settings {
    (check = $check:path; $($rest:tt)*) => {
        $crate::collectors::settings::plain_settings!(@define $($rest)*);
        impl $crate::collectors::CollectorSettings for Settings {
            fn schedule(&self) -> $crate::collectors::Schedule {
                Settings::schedule(self)
            }
            fn validate(&self) -> Result<(), $crate::collectors::Invalid> {
                $check(self)
            }
        }
    };
    (@define $interval:expr, $timeout:expr $(, $(#[$doc:meta])* $field:ident: $ty:ty = $default:expr)* $(,)?) => {
        #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Settings {
            pub enabled: bool,
            pub interval: $crate::interval::Interval,
            pub timeout: $crate::interval::Interval,
            $($(#[$doc])* pub $field: $ty,)*
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    enabled: true,
                    interval: $crate::interval::Interval::secs($interval),
                    timeout: $crate::interval::Interval::secs($timeout),
                    $($field: $default,)*
                }
            }
        }

        impl Settings {
            pub fn schedule(&self) -> $crate::collectors::Schedule {
                $crate::collectors::Schedule {
                    enabled: self.enabled,
                    interval: self.interval.0,
                    timeout: self.timeout.0,
                }
            }
        }
    };
    ($($rest:tt)*) => {
        $crate::collectors::settings::plain_settings!(@define $($rest)*);
        impl $crate::collectors::CollectorSettings for Settings {
            fn schedule(&self) -> $crate::collectors::Schedule {
                Settings::schedule(self)
            }
        }
    };
}

pub(crate) use plain_settings;
