//! The battery: `sensors_battery()`, from /sys/class/power_supply. No battery, no series.

use super::Collector;
use super::sensors::HW_ID;
use crate::catalog::{Instrument, MetricDesc};
use crate::host::bytes::escape_os;
use crate::host::power_supply::{self, SecondsLeft};
use crate::host::{HostError, HostPaths};
use crate::snapshot::Snapshot;

super::settings::plain_settings!(30, 5);

pub static CHARGE: MetricDesc = MetricDesc {
    name: "hw.battery.charge",
    unit: "1",
    instrument: Instrument::Gauge,
    help: "Remaining battery charge, psutil's percent / 100 (energy_now / energy_full, or charge_*, else capacity); hw_id is the power_supply entry psutil picks (the first named BAT* or *battery*)",
    attributes: &[HW_ID],
    source: "sensors_battery().percent",
    extension: false,
};

pub static TIME_LEFT: MetricDesc = MetricDesc {
    name: "hw.battery.time_left",
    unit: "s",
    instrument: Instrument::Gauge,
    help: "Seconds until the battery is empty; absent while plugged in (psutil's POWER_TIME_UNLIMITED) or when unknown (POWER_TIME_UNKNOWN)",
    attributes: &[HW_ID],
    source: "sensors_battery().secsleft",
    extension: false,
};

pub static POWER_PLUGGED: MetricDesc = MetricDesc {
    name: "hw.battery.power_plugged",
    unit: "",
    instrument: Instrument::Gauge,
    help: "1 when on mains power, 0 on battery (AC0/online or AC/online, else the battery status, as psutil); absent when psutil's power_plugged is None",
    attributes: &[HW_ID],
    source: "sensors_battery().power_plugged",
    extension: true,
};

pub static CATALOG: &[&MetricDesc] = &[&CHARGE, &TIME_LEFT, &POWER_PLUGGED];

pub struct BatteryCollector {
    paths: HostPaths,
}

impl BatteryCollector {
    pub fn new(paths: HostPaths) -> Self {
        Self { paths }
    }
}

impl Collector for BatteryCollector {
    fn collect(&mut self, out: &mut Snapshot) -> Result<(), HostError> {
        let Some(b) = power_supply::battery(&self.paths)? else {
            return Ok(());
        };
        let name = escape_os(&b.name);
        let id = [(HW_ID, &*name)];
        out.add(&CHARGE, &id, b.percent / 100.0);
        if let SecondsLeft::Seconds(s) = b.secsleft {
            out.add(&TIME_LEFT, &id, s as f64);
        }
        if let Some(plugged) = b.power_plugged {
            out.add(&POWER_PLUGGED, &id, if plugged { 1.0 } else { 0.0 });
        }
        Ok(())
    }
}
