#!/usr/bin/env python3
"""Writes the sysfs fixture trees tests/fixtures/sensors-{laptop,server,amd-desktop,rpi,router}.

Each tree holds what psutil's sensors_temperatures(), sensors_fans() and sensors_battery()
read: sys/class/hwmon/hwmonN, sys/class/thermal/thermal_zoneN and sys/class/power_supply.
A chip made by `hwmon` is a directory in sys/class/hwmon with its `device` link kept so the
device name is there; one made by `chip` sits where a real host has it, under its device in
sys/devices, with sys/class/hwmon/hwmonN a link to it, and a `device` link only when given.
Names, labels and limits are copied from real machines of each kind (ThinkPad with coretemp
and thinkpad_acpi, dual-socket Xeon with NVMe drives, Ryzen desktop with k10temp, amdgpu and
a Nuvoton Super I/O chip, a Raspberry-Pi-like board whose thermal driver registers no hwmon
device, a Wi-Fi 7 router whose radio registers one chip per band under one device).

tests/python/test_sensors_fixture_oracle.py runs psutil itself on these trees (in a mount
namespace where the tree is /sys) and compares with `vitals once`.
"""
import os
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def write(base, rel, value):
    p = base / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"{value}\n")


def link(base, rel, target):
    p = base / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, p)


def hwmon(base, n, name, device, files):
    d = f"sys/class/hwmon/hwmon{n}"
    write(base, f"{d}/name", name)
    if device:
        link(base, f"{d}/device", f"../../../{device}")
    for f, v in files.items():
        write(base, f"{d}/{f}", v)


def chip(base, n, name, path, files, device_link=None):
    """A chip at sys/devices/<path>/hwmonN, as the kernel places it, linked from sys/class/hwmon."""
    d = f"sys/devices/{path}/hwmon{n}"
    write(base, f"{d}/name", name)
    link(base, f"sys/class/hwmon/hwmon{n}", f"../../devices/{path}/hwmon{n}")
    if device_link:
        link(base, f"{d}/device", device_link)
    for f, v in files.items():
        write(base, f"{d}/{f}", v)


def zone(base, n, kind, temp, trips):
    d = f"sys/class/thermal/thermal_zone{n}"
    write(base, f"{d}/type", kind)
    write(base, f"{d}/temp", temp)
    write(base, f"{d}/mode", "enabled")
    write(base, f"{d}/policy", "step_wise")
    for i, (ttype, ttemp) in enumerate(trips):
        write(base, f"{d}/trip_point_{i}_type", ttype)
        write(base, f"{d}/trip_point_{i}_temp", ttemp)
        write(base, f"{d}/trip_point_{i}_hyst", 0)


def coretemp(package, temps, tmax, tcrit):
    files = {}
    for i, (label, value) in enumerate(temps, start=1):
        n = i if i == 1 else (i if label != "Core 8" else 10)
        files.update({
            f"temp{n}_label": label,
            f"temp{n}_input": value,
            f"temp{n}_max": tmax,
            f"temp{n}_crit": tcrit,
            f"temp{n}_crit_alarm": 0,
        })
    return files


def laptop(base):
    hwmon(base, 0, "acpitz", "thermal_zone0", {"temp1_input": 48000, "temp1_crit": 128000})
    hwmon(base, 1, "BAT0", "BAT0", {"in0_input": 12437})
    hwmon(base, 2, "nvme", "nvme0", {
        "temp1_label": "Composite", "temp1_input": 35850, "temp1_max": 84850,
        "temp1_min": -273150, "temp1_crit": 87850, "temp1_alarm": 0,
    })
    hwmon(base, 3, "coretemp", "coretemp.0", coretemp(0, [
        ("Package id 0", 52000), ("Core 0", 50000), ("Core 1", 51000), ("Core 2", 49000), ("Core 3", 52000),
    ], 100000, 100000))
    hwmon(base, 4, "thinkpad", "thinkpad_hwmon", {
        "fan1_input": 2950, "temp1_input": 48000, "temp2_input": 0, "pwm1": 255, "pwm1_enable": 2,
    })
    hwmon(base, 5, "iwlwifi_1", "0000:00:14.3", {"temp1_input": 42000})
    zone(base, 0, "acpitz", 48000, [("critical", 128000)])
    zone(base, 1, "x86_pkg_temp", 52000, [("passive", 0)])
    ps = "sys/class/power_supply"
    write(base, f"{ps}/AC/type", "Mains")
    write(base, f"{ps}/AC/online", 0)
    for f, v in {
        "type": "Battery", "status": "Discharging", "present": 1, "technology": "Li-poly",
        "cycle_count": 212, "voltage_min_design": 11580000, "voltage_now": 12437000,
        "power_now": 9876000, "energy_full_design": 57000000, "energy_full": 50450000,
        "energy_now": 38420000, "capacity": 76, "capacity_level": "Normal",
        "model_name": "5B10W13930", "manufacturer": "SMP", "serial_number": 1234,
    }.items():
        write(base, f"{ps}/BAT0/{f}", v)


def server(base):
    hwmon(base, 0, "coretemp", "coretemp.0", coretemp(0, [
        ("Package id 0", 45000), ("Core 0", 41000), ("Core 1", 43000), ("Core 8", 44000),
    ], 86000, 96000))
    hwmon(base, 1, "coretemp", "coretemp.1", coretemp(1, [
        ("Package id 1", 47000), ("Core 0", 44000), ("Core 1", 46000),
    ], 86000, 96000))
    for n, dev, t in [(2, "nvme0", 38850), (3, "nvme1", 40850)]:
        hwmon(base, n, "nvme", dev, {
            "temp1_label": "Composite", "temp1_input": t, "temp1_max": 81850,
            "temp1_min": -273150, "temp1_crit": 84850, "temp1_alarm": 0,
            "temp2_label": "Sensor 1", "temp2_input": t, "temp2_max": 65261850, "temp2_min": -273150,
        })
    hwmon(base, 4, "power_meter", "ACPI000D:00", {"power1_average": 231000000, "power1_average_interval": 1000})


def amd_desktop(base):
    hwmon(base, 0, "nvme", "nvme0", {
        "temp1_label": "Composite", "temp1_input": 41850, "temp1_max": 82850,
        "temp1_min": -273150, "temp1_crit": 84850, "temp1_alarm": 0,
    })
    hwmon(base, 1, "k10temp", "0000:00:18.3", {
        "temp1_label": "Tctl", "temp1_input": 45250, "temp3_label": "Tccd1", "temp3_input": 40500,
    })
    hwmon(base, 2, "amdgpu", "0000:03:00.0", {
        "temp1_label": "edge", "temp1_input": 41000, "temp1_crit": 100000, "temp1_crit_hyst": -273150,
        "temp1_emergency": 105000,
        "temp2_label": "junction", "temp2_input": 43000, "temp2_crit": 110000, "temp2_crit_hyst": -273150,
        "temp3_label": "mem", "temp3_input": 50000, "temp3_crit": 105000, "temp3_crit_hyst": -273150,
        "fan1_input": 1130, "fan1_min": 0, "fan1_max": 3300, "fan1_enable": 0, "pwm1": 76,
    })
    # The Super I/O chip under its platform device with no `device` link: the device is
    # taken from the chip's place in the tree (nct6775.656), not its hwmonN number.
    chip(base, 3, "nct6798", "platform/nct6775.656/hwmon", {
        "temp1_label": "SYSTIN", "temp1_input": 32000, "temp1_max": 80000, "temp1_max_hyst": 75000,
        "temp2_label": "CPUTIN", "temp2_input": 38500, "temp2_max": 80000, "temp2_max_hyst": 75000,
        "fan1_input": 0, "fan2_input": 1045, "fan2_min": 0, "fan2_alarm": 0,
    })
    # A wireless mouse: psutil's sensors_battery() takes any entry containing "battery".
    ps = "sys/class/power_supply/hidpp_battery_0"
    for f, v in {"type": "Battery", "scope": "Device", "status": "Discharging", "present": 1,
                 "online": 1, "capacity": 55, "capacity_level": "Normal",
                 "model_name": "MX Master 3", "manufacturer": "Logitech"}.items():
        write(base, f"{ps}/{f}", v)


def rpi(base):
    zone(base, 0, "cpu-thermal", 47236, [("critical", 110000)])
    write(base, "sys/class/thermal/cooling_device0/type", "gpio-fan")
    write(base, "sys/class/thermal/cooling_device0/cur_state", 0)


def router(base):
    # The CPU's thermal zone registers a chip under the zone itself (a class device: no
    # `hwmon` directory between them).
    chip(base, 0, "cpu_thermal", "virtual/thermal/thermal_zone0", {"temp1_input": 58200},
         device_link="../../thermal_zone0")
    zone(base, 0, "cpu-thermal", 58200, [("critical", 125000), ("active", 60000)])
    chip(base, 1, "sfp2", "platform/sfp2/hwmon", {
        "temp1_input": 49613, "temp1_max": 90000, "temp1_crit": 95000, "temp1_min": -40000,
    }, device_link="../../../sfp2")
    # A fan whose chip has no `device` link.
    chip(base, 2, "pwmfan", "platform/pwm-fan/hwmon", {"fan1_input": 2310, "pwm1": 96, "pwm1_enable": 1})
    # One radio, one chip per band, all under phy0 with `device` written as `../..`.
    radio = "platform/soc/18000000.wifi/ieee80211/phy0/hwmon"
    for n, band, temp in [(8, 0, 53000), (9, 1, 61000), (10, 2, 66000)]:
        chip(base, n, f"mt7996_phy0_{band}", radio,
             {"temp1_input": temp, "temp1_max": 110000, "temp1_crit": 120000, "pwm1": 0},
             device_link="../..")


if __name__ == "__main__":
    for name, make in [("laptop", laptop), ("server", server), ("amd-desktop", amd_desktop), ("rpi", rpi),
                       ("router", router)]:
        base = ROOT / f"sensors-{name}"
        shutil.rmtree(base, ignore_errors=True)
        make(base)
        print(f"wrote {base}")
