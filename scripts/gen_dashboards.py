#!/usr/bin/env python3
"""Generates the Grafana dashboards in dashboards/ from one description of their panels.

    scripts/gen_dashboards.py          writes dashboards/*.json
    scripts/gen_dashboards.py --check  exits 1 when a committed dashboard differs from the output

Every panel has a unit, every target selects job="$job",instance="$instance" and every rate()
uses $__rate_interval. tests/python/test_dashboards_prometheus.py runs each target, variables
substituted, on a real Prometheus scraping vitals. Standard library only.
"""
import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = REPO / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
S = 'job="$job",instance="$instance"'
G = S + ',process_group=~"$process_group"'
R = "$__rate_interval"


def t(expr, legend="", instant=False):
    return {"expr": expr, "legend": legend, "instant": instant}


class Panel:
    def __init__(self, kind, title, unit, targets, description="", width=None, height=None,
                 stack=False, decimals=None, max_=None):
        self.kind, self.title, self.unit, self.targets = kind, title, unit, targets
        self.description, self.stack, self.decimals, self.max = description, stack, decimals, max_
        self.width = width or {"stat": 4, "table": 24}.get(kind, 12)
        self.height = height or {"stat": 4, "table": 8}.get(kind, 8)


def ts(title, unit, *targets, **kw):
    return Panel("timeseries", title, unit, list(targets), **kw)


def stat(title, unit, expr, **kw):
    return Panel("stat", title, unit, [t(expr, instant=True)], **kw)


def table(title, unit, expr, **kw):
    return Panel("table", title, unit, [t(expr, instant=True)], **kw)


def row(title):
    return title


# ---------------------------------------------------------------------------- host overview
HOST = [
    row("Overview"),
    stat("Uptime", "s", f"system_uptime_seconds{{{S}}}", decimals=0),
    stat("CPU busy", "percentunit",
         f'1 - avg(sum by (cpu_logical_number) (system_cpu_utilization_ratio{{{S},cpu_mode=~"idle|iowait"}}))',
         description="Share of the last interval the CPUs were neither idle nor waiting for I/O (psutil's cpu_percent)",
         max_=1),
    stat("Load per core", "none",
         f"system_cpu_load_average_1m{{{S}}} / system_cpu_logical_count{{{S}}}", decimals=2,
         description="1-minute load average divided by the logical CPUs; above 1 tasks wait for a CPU"),
    stat("Memory used", "percentunit",
         f"1 - system_memory_linux_available_bytes{{{S}}} / system_memory_limit_bytes{{{S}}}", max_=1),
    stat("Logged-in users", "none", f"sum(system_users_count{{{S}}}) or vector(0)"),
    stat("Stuck mounts", "none", f"count(vitals_filesystem_stuck{{{S}}} == 1) or vector(0)",
         description="Mounts whose statvfs did not answer (a dead NFS, CIFS or FUSE server)"),

    row("CPU"),
    ts("CPU by mode", "percentunit",
       t(f'sum by (cpu_mode) (rate(system_cpu_time_seconds_total{{{S},cpu_mode!~"idle|guest|guest_nice"}}[{R}]))'
         f" / scalar(system_cpu_logical_count{{{S}}})", "{{cpu_mode}}"),
       stack=True, max_=1,
       description="All CPUs together; guest time is inside user and nice, as psutil reports it"),
    ts("Utilization per core", "percentunit",
       t(f'1 - sum by (cpu_logical_number) (system_cpu_utilization_ratio{{{S},cpu_mode=~"idle|iowait"}})',
         "cpu {{cpu_logical_number}}"), max_=1),
    ts("CPU per core and mode", "percentunit",
       t(f'rate(system_cpu_time_seconds_total{{{S},cpu_mode!~"idle|guest|guest_nice"}}[{R}])',
         "cpu {{cpu_logical_number}} {{cpu_mode}}"), stack=True),
    ts("Load per core", "none",
       t(f"system_cpu_load_average_1m{{{S}}} / system_cpu_logical_count{{{S}}}", "1m"),
       t(f"system_cpu_load_average_5m{{{S}}} / system_cpu_logical_count{{{S}}}", "5m"),
       t(f"system_cpu_load_average_15m{{{S}}} / system_cpu_logical_count{{{S}}}", "15m")),
    ts("Frequency", "hertz", t(f"system_cpu_frequency_hertz{{{S}}}", "cpu {{cpu_logical_number}}")),
    ts("Context switches and interrupts", "ops",
       t(f"rate(system_cpu_context_switches_total{{{S}}}[{R}])", "context switches"),
       t(f"rate(system_cpu_interrupts_total{{{S}}}[{R}])", "interrupts"),
       t(f"rate(system_cpu_soft_interrupts_total{{{S}}}[{R}])", "soft interrupts")),

    row("Memory and swap"),
    ts("Memory", "bytes",
       t(f"system_memory_usage_bytes{{{S}}}", "{{system_memory_state}}"),
       t(f"system_memory_linux_available_bytes{{{S}}}", "available"),
       t(f"system_memory_limit_bytes{{{S}}}", "total"),
       description="psutil's states: used = total - available; cached includes SReclaimable"),
    ts("Memory utilization", "percentunit",
       t(f"1 - system_memory_linux_available_bytes{{{S}}} / system_memory_limit_bytes{{{S}}}", "used"),
       max_=1),
    ts("Swap", "bytes", t(f"system_paging_usage_bytes{{{S}}}", "{{system_paging_state}}"), stack=True),
    ts("Swap in and out", "Bps",
       t(f"rate(system_paging_io_bytes_total{{{S}}}[{R}])", "{{system_paging_direction}}")),

    row("Filesystems"),
    ts("Space used", "percentunit",
       t(f'system_filesystem_utilization_ratio{{{S},system_filesystem_state="used"}}',
         "{{system_filesystem_mountpoint}}"), max_=1,
       description="As df's Use%: used / (used + available to users)"),
    ts("Space available", "bytes",
       t(f'system_filesystem_usage_bytes{{{S},system_filesystem_state="free"}}',
         "{{system_filesystem_mountpoint}}")),
    ts("Inodes used", "percentunit",
       t(f'system_filesystem_inodes_usage{{{S},system_filesystem_state="used"}}'
         f" / ignoring (system_filesystem_state) (system_filesystem_inodes_limit{{{S}}} > 0)",
         "{{system_filesystem_mountpoint}}"), max_=1),
    table("Filesystems", "bytes",
          f"system_filesystem_limit_bytes{{{S}}}",
          description="Size of each mounted filesystem vitals reads, with its device, type and mode"),

    row("Disks"),
    ts("Disk throughput", "Bps",
       t(f"rate(system_disk_io_bytes_total{{{S}}}[{R}])", "{{system_device}} {{disk_io_direction}}")),
    ts("Disk operations", "iops",
       t(f"rate(system_disk_operations_total{{{S}}}[{R}])", "{{system_device}} {{disk_io_direction}}")),
    ts("Disk busy time", "percentunit",
       t(f"rate(system_disk_io_time_seconds_total{{{S}}}[{R}])", "{{system_device}}"),
       description="Share of the time the device had I/O in flight (iostat's %util)", max_=1),
    ts("Disk latency", "s",
       t(f"rate(system_disk_operation_time_seconds_total{{{S}}}[{R}])"
         f" / rate(system_disk_operations_total{{{S}}}[{R}])", "{{system_device}} {{disk_io_direction}}"),
       description="Average time per completed read or write"),
    ts("Disk queue", "none",
       t(f"rate(system_disk_weighted_io_time_seconds_total{{{S}}}[{R}])", "{{system_device}}"),
       description="Average requests in flight (iostat's aqu-sz)"),

    row("Network"),
    ts("Traffic", "Bps",
       t(f"rate(system_network_io_bytes_total{{{S}}}[{R}])",
         "{{network_interface_name}} {{network_io_direction}}")),
    ts("Packets", "pps",
       t(f"rate(system_network_packet_count_total{{{S}}}[{R}])",
         "{{network_interface_name}} {{network_io_direction}}")),
    ts("Errors", "pps",
       t(f"rate(system_network_errors_total{{{S}}}[{R}])",
         "{{network_interface_name}} {{network_io_direction}}")),
    ts("Drops", "pps",
       t(f"rate(system_network_packet_dropped_total{{{S}}}[{R}])",
         "{{network_interface_name}} {{network_io_direction}}")),
    ts("Connections by state", "none",
       t(f"sum by (network_transport, network_connection_state) (system_network_connection_count{{{S}}})",
         "{{network_transport}} {{network_connection_state}}")),
    ts("Interfaces up", "none",
       t(f"system_network_interface_up{{{S}}}", "{{network_interface_name}}"), max_=1),

    row("Hardware"),
    ts("Temperatures", "celsius",
       t(f"hw_temperature_celsius{{{S}}}", "{{hw_name}} {{hw_sensor_location}} ({{hw_id}})"),
       t(f'hw_temperature_limit_celsius{{{S},hw_limit_type="critical"}}',
         "critical {{hw_name}} {{hw_sensor_location}} ({{hw_id}})")),
    ts("Fans", "rotrpm", t(f"hw_fan_speed_rpm{{{S}}}", "{{hw_name}} {{hw_sensor_location}} ({{hw_id}})")),
    ts("Battery charge", "percentunit", t(f"hw_battery_charge_ratio{{{S}}}", "{{hw_id}}"), max_=1),
    ts("Battery time left", "s", t(f"hw_battery_time_left_seconds{{{S}}}", "{{hw_id}}"),
       description="Absent while on mains power"),

    row("System"),
    ts("Processes by state", "none",
       t(f"system_process_count{{{S}}}", "{{process_state}}")),
    ts("Threads", "none", t(f"system_thread_count{{{S}}}", "threads")),
    ts("Logged-in users", "none", t(f"system_users_count{{{S}}}", "{{user_name}}")),
    ts("Uptime", "s", t(f"system_uptime_seconds{{{S}}}", "uptime")),
]

# ---------------------------------------------------------------------------- processes
PROCESSES = [
    row("Groups"),
    ts("CPU by group", "percentunit",
       t(f"sum by (process_group) (rate(process_cpu_time_seconds_total{{{G}}}[{R}]))", "{{process_group}}"),
       description="CPU time per second: 1 is one logical CPU busy"),
    ts("CPU by group and mode", "percentunit",
       t(f"sum by (process_group, cpu_mode) (rate(process_cpu_time_seconds_total{{{G}}}[{R}]))",
         "{{process_group}} {{cpu_mode}}"), stack=True),
    ts("CPU utilization by group", "percentunit",
       t(f"sum by (process_group) (process_cpu_utilization_ratio{{{G}}})", "{{process_group}}")),
    ts("Resident memory by group", "bytes",
       t(f"sum by (process_group) (process_memory_usage_bytes{{{G}}})", "{{process_group}}")),
    ts("Virtual memory by group", "bytes",
       t(f"sum by (process_group) (process_memory_virtual_bytes{{{G}}})", "{{process_group}}")),
    ts("Disk I/O by group", "Bps",
       t(f"sum by (process_group, disk_io_direction) (rate(process_disk_io_bytes_total{{{G}}}[{R}]))",
         "{{process_group}} {{disk_io_direction}}")),
    ts("Open file descriptors by group", "none",
       t(f"sum by (process_group) (process_unix_file_descriptor_count{{{G}}})", "{{process_group}}")),
    ts("Threads by group", "none",
       t(f"sum by (process_group) (process_thread_count{{{G}}})", "{{process_group}}")),
    ts("Context switches by group", "ops",
       t(f"sum by (process_group, process_context_switch_type) (rate(process_context_switches_total{{{G}}}[{R}]))",
         "{{process_group}} {{process_context_switch_type}}")),
    ts("Page faults by group", "ops",
       t(f"sum by (process_group, system_paging_fault_type) (rate(process_paging_faults_total{{{G}}}[{R}]))",
         "{{process_group}} {{system_paging_fault_type}}")),
    ts("Processes by group and state", "none",
       t(f"sum by (process_group, process_state) (process_count{{{G}}})",
         "{{process_group}} {{process_state}}")),
    ts("All processes by state", "none",
       t(f"system_process_count{{{S}}}", "{{process_state}}"),
       description="Every process of the host, grouped or not"),

    row("Top processes"),
    table("Top processes by CPU", "percentunit",
          f"topk(10, process_top_cpu_utilization_ratio{{{G}}})"),
    table("Top processes by memory", "bytes",
          f"topk(10, process_top_memory_usage_bytes{{{G}}})"),
]

# ---------------------------------------------------------------------------- vitals itself
SELF = [
    row("Collectors"),
    stat("Series served", "none", f"sum(vitals_collector_series{{{S}}})"),
    stat("Collectors failing", "none", f"count(vitals_collector_up{{{S}}} == 0) or vector(0)"),
    stat("Scrape duration", "s", f'scrape_duration_seconds{{{S}}}'),
    table("Build", "none", f"vitals_build_info{{{S}}}", width=12, height=4),
    ts("Collector up", "none", t(f"vitals_collector_up{{{S}}}", "{{collector}}"), max_=1),
    ts("Collection duration", "s", t(f"vitals_collector_duration_seconds{{{S}}}", "{{collector}}")),
    ts("Time since last success", "s",
       t(f"time() - vitals_collector_last_success_timestamp_seconds{{{S}}}", "{{collector}}"),
       description="Staleness: a collector's series are dropped after stale_after intervals without success"),
    ts("Errors by kind", "cps",
       t(f"sum by (collector, kind) (rate(vitals_collector_errors_total{{{S}}}[{R}]))",
         "{{collector}} {{kind}}")),
    ts("Series by collector", "none", t(f"vitals_collector_series{{{S}}}", "{{collector}}"), stack=True),
    ts("Samples scraped", "none", t(f"scrape_samples_scraped{{{S}}}", "samples")),

    row("OTLP export"),
    ts("OTLP exports", "cps",
       t(f"sum by (outcome) (rate(vitals_otlp_exports_total{{{S}}}[{R}]))", "{{outcome}}")),
    ts("Time since last OTLP success", "s",
       t(f"time() - vitals_otlp_last_success_timestamp_seconds{{{S}}}", "since last success")),
]


def variables(extra=()):
    def query(name, q, refresh, **kw):
        v = {"name": name, "label": kw.pop("label", name), "type": "query", "datasource": DS,
             "query": {"query": q, "refId": f"{name}-variable"}, "definition": q,
             "refresh": refresh, "sort": 1, "hide": 0, "includeAll": False, "multi": False,
             "options": [], "current": {}, "regex": ""}
        v.update(kw)
        return v

    out = [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "refresh": 1, "hide": 0, "regex": "", "options": [], "current": {}},
        query("job", "label_values(vitals_build_info, job)", 1,
              current={"selected": True, "text": "vitals", "value": "vitals"}),
        query("instance", 'label_values(vitals_build_info{job="$job"}, instance)', 2),
    ]
    out += [query(*e[:3], **e[3]) for e in extra]
    return out


def build(uid, title, description, spec, extra_vars=()):
    panels, pid, x, y, row_h = [], 1, 0, 0, 0
    for item in spec:
        if isinstance(item, str):
            y += row_h if x else 0
            x, row_h = 0, 0
            panels.append({"id": pid, "type": "row", "title": item, "collapsed": False,
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
            pid += 1
            y += 1
            continue
        p = item
        if x + p.width > 24:
            x, y, row_h = 0, y + row_h, 0
        defaults = {"unit": p.unit}
        if p.decimals is not None:
            defaults["decimals"] = p.decimals
        if p.max is not None:
            defaults["min"], defaults["max"] = 0, p.max
        if p.kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if p.stack else 0,
                                  "showPoints": "never", "spanNulls": False,
                                  "stacking": {"mode": "normal" if p.stack else "none", "group": "A"}}
            options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                       "tooltip": {"mode": "multi", "sort": "desc"}}
        elif p.kind == "stat":
            options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                       "colorMode": "value", "graphMode": "none", "textMode": "auto"}
        else:
            options = {"showHeader": True, "cellHeight": "sm"}
        panel = {"id": pid, "type": p.kind, "title": p.title, "datasource": DS,
                 "gridPos": {"h": p.height, "w": p.width, "x": x, "y": y},
                 "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options,
                 "targets": []}
        if p.description:
            panel["description"] = p.description
        if p.kind == "table":
            panel["transformations"] = [{"id": "labelsToFields", "options": {}},
                                        {"id": "organize", "options": {"excludeByName": {"Time": True}}}]
        for i, tg in enumerate(p.targets):
            target = {"refId": chr(ord("A") + i), "datasource": DS, "expr": tg["expr"],
                      "legendFormat": tg["legend"] or "__auto", "range": not tg["instant"],
                      "instant": tg["instant"]}
            if p.kind == "table":
                target["format"] = "table"
            panel["targets"].append(target)
        panels.append(panel)
        pid += 1
        x += p.width
        row_h = max(row_h, p.height)
    return {
        "uid": uid, "title": title, "description": description, "tags": ["vitals"],
        "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
        "refresh": "30s", "time": {"from": "now-6h", "to": "now"}, "timezone": "browser",
        "annotations": {"list": []}, "links": [],
        "templating": {"list": variables(extra_vars)}, "panels": panels,
    }


DASHBOARDS = {
    "vitals-host.json": build(
        "vitals-host", "vitals / Host", "One host: CPU, memory, filesystems, disks, network, sensors", HOST),
    "vitals-processes.json": build(
        "vitals-processes", "vitals / Processes", "Process groups and the top processes of one host",
        PROCESSES,
        [("process_group", 'label_values(process_count{job="$job",instance="$instance"}, process_group)', 2,
          {"label": "group", "includeAll": True, "multi": True, "allValue": ".*",
           "current": {"selected": True, "text": "All", "value": "$__all"}})]),
    "vitals-self.json": build(
        "vitals-self", "vitals / Daemon", "vitals itself: collectors, errors, staleness, series, OTLP", SELF),
}


def render(d):
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def main():
    if "--check" in sys.argv[1:]:
        stale = [n for n, d in DASHBOARDS.items()
                 if not (OUT / n).exists() or (OUT / n).read_text() != render(d)]
        for n in stale:
            print(f"dashboards/{n} differs from scripts/gen_dashboards.py's output", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for name, d in DASHBOARDS.items():
        (OUT / name).write_text(render(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
