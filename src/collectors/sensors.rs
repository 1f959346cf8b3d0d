//! Temperatures and fans: `sensors_temperatures()` and `sensors_fans()`, from hwmon and,
//! when hwmon has no temperature, thermal zones. A host without sensors publishes no series
//! and no error: absence of hardware is not a failure.

use super::Collector;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::bytes::escape_os;
use crate::host::hwmon;
use crate::host::{HostError, HostPaths};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(15, 5);

pub(crate) const HW_ID: &str = "hw.id";
pub(crate) const HW_NAME: &str = "hw.name";
const HW_LOCATION: &str = "hw.sensor_location";
const HW_LIMIT: &str = "hw.limit_type";

pub static TEMPERATURE: MetricDesc = MetricDesc {
    name: "hw.temperature",
    unit: "Cel",
    instrument: Instrument::Gauge,
    help: "Temperature of a sensor in degrees Celsius. hw_name is psutil's chip name (the dict key: hwmon name, or thermal zone type), hw_sensor_location psutil's label (empty when the sensor has none), hw_id <device>:<sensor> for hwmon (stable across reboots, unique where labels repeat; <device>/<chip name>:<sensor> where one device has several chips) or the thermal zone",
    attributes: &[HW_ID, HW_NAME, HW_LOCATION],
    source: "sensors_temperatures()[name][i].current",
    extension: false,
};

pub static TEMPERATURE_LIMIT: MetricDesc = MetricDesc {
    name: "hw.temperature.limit",
    unit: "Cel",
    instrument: Instrument::Gauge,
    help: "Temperature thresholds of a sensor: hw_limit_type max is psutil's high (hwmon tempN_max), critical psutil's critical (tempN_crit, or a thermal zone's critical trip point). As psutil, when only one is given (or the other is 0) both carry it; absent when the hardware gives neither",
    attributes: &[HW_ID, HW_NAME, HW_LOCATION, HW_LIMIT],
    source: "sensors_temperatures()[name][i].high, .critical",
    extension: false,
};

pub static FAN_SPEED: MetricDesc = MetricDesc {
    name: "hw.fan.speed",
    unit: "rpm",
    instrument: Instrument::Gauge,
    help: "Fan speed in revolutions per minute (hwmon fanN_input); labels as for hw_temperature_celsius",
    attributes: &[HW_ID, HW_NAME, HW_LOCATION],
    source: "sensors_fans()[name][i].current",
    extension: false,
};

pub static CATALOG: &[&MetricDesc] = &[&TEMPERATURE, &TEMPERATURE_LIMIT, &FAN_SPEED];

pub struct SensorsCollector {
    paths: HostPaths,
}

impl SensorsCollector {
    pub fn new(paths: HostPaths) -> Self {
        Self { paths }
    }
}

impl Collector for SensorsCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        match hwmon::temperatures(&self.paths) {
            Ok(temps) => {
                for t in &temps {
                    let (id, chip, label) =
                        (escape_os(&t.id), escape_os(&t.chip), escape_os(&t.label));
                    let labels = [(HW_ID, &*id), (HW_NAME, &*chip), (HW_LOCATION, &*label)];
                    out.add(&TEMPERATURE, &labels, t.current);
                    for (kind, value) in [("max", t.high), ("critical", t.critical)] {
                        if let Some(v) = value {
                            let [a, b, c] = labels;
                            out.add(&TEMPERATURE_LIMIT, &[a, b, c, (HW_LIMIT, kind)], v);
                        }
                    }
                }
            }
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        match hwmon::fans(&self.paths) {
            Ok(fans) => {
                for f in &fans {
                    out.add(
                        &FAN_SPEED,
                        &[
                            (HW_ID, &escape_os(&f.id)),
                            (HW_NAME, &escape_os(&f.chip)),
                            (HW_LOCATION, &escape_os(&f.label)),
                        ],
                        f.rpm as f64,
                    );
                }
            }
            Err(e) => out.skip(e.kind(), e.to_string()),
        }
        Ok(())
    }
}
