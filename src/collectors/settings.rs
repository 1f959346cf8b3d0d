//! The settings every collector has (`enabled`, `interval`, `timeout`), for collectors that
//! add only simple fields: `plain_settings!(interval_secs, timeout_secs)` defines `Settings`
//! with those defaults, serde's `deny_unknown_fields`, and its [`super::Schedule`]; extra
//! fields follow as `/// doc` `name: Type = default`.

macro_rules! plain_settings {
    ($interval:expr, $timeout:expr $(, $(#[$doc:meta])* $field:ident: $ty:ty = $default:expr)* $(,)?) => {
        #[derive(Debug, Clone, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Settings {
            pub enabled: bool,
            pub interval: $crate::config::Interval,
            pub timeout: $crate::config::Interval,
            $($(#[$doc])* pub $field: $ty,)*
        }

        impl Default for Settings {
            fn default() -> Self {
                Self {
                    enabled: true,
                    interval: $crate::config::Interval::secs($interval),
                    timeout: $crate::config::Interval::secs($timeout),
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
}

pub(crate) use plain_settings;
