#!/usr/bin/env python3
"""Generates the node_exporter compatibility recording rules and their coverage table.

    scripts/gen_compat_rules.py          writes deploy/prometheus/node-exporter-compat.rules.yml
                                         and docs/node-exporter-compat.md
    scripts/gen_compat_rules.py --check  exits 1 when the committed files differ from the output

Each rule records one node_exporter series (name and labels as node_exporter 1.x exports them)
from vitals' series: label_replace copies vitals' label into node_exporter's name, and an
aggregation `without` the vitals labels drops them (each output series comes from exactly
one input series, so the sum is that series). Every other label (job, instance, and whatever
the scrape adds) is kept, so the node-mixin's and "Node Exporter Full"'s queries select them
as they select node_exporter's. Standard library only.
"""
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus" / "node-exporter-compat.rules.yml"
DOC = REPO / "docs" / "node-exporter-compat.md"


class Rule:
    def __init__(self, record, expr, source, note=""):
        self.record, self.expr, self.source, self.note = record, expr, source, note


def relabel(selector, copy=(), values=(), drop=()):
    """`selector` with labels copied (new, old), values rewritten (label, new, old value)
    and the vitals labels (the copied ones and `drop`) removed."""
    expr = selector
    for new, old in copy:
        expr = f'label_replace({expr}, "{new}", "$1", "{old}", "(.*)")'
    for label, new_value, old_value in values:
        expr = f'label_replace({expr}, "{label}", "{new_value}", "{label}", "{old_value}")'
    gone = [old for _, old in copy] + list(drop)
    if not gone:
        return expr
    return f"sum without ({', '.join(gone)}) ({expr})"


CPU = [("cpu", "cpu_logical_number")]
FS = [("device", "system_device"), ("mountpoint", "system_filesystem_mountpoint"),
      ("fstype", "system_filesystem_type")]
DISK = [("device", "system_device")]
NIC = [("device", "network_interface_name")]
HWMON = [("chip", "hw_id"), ("sensor", "hw_id")]
HWMON_IDS = ("hw_name", "hw_sensor_location")


def hwmon(selector, extra_drop=()):
    """hw_id is <device>:<sensor> (the device may hold colons itself): chip and sensor."""
    expr = f'label_replace({selector}, "chip", "$1", "hw_id", "(.*):[^:]*")'
    expr = f'label_replace({expr}, "sensor", "$1", "hw_id", ".*:([^:]*)")'
    return f"sum without ({', '.join(('hw_id',) + HWMON_IDS + tuple(extra_drop))}) ({expr})"


def rules():
    r = []
    add = lambda *a, **k: r.append(Rule(*a, **k))  # noqa: E731

    # CPU. node_exporter leaves guest time inside user and nice, as psutil, and exports it
    # again in node_cpu_guest_seconds_total.
    add("node_cpu_seconds_total",
        relabel('system_cpu_time_seconds_total{cpu_mode!~"guest|guest_nice"}',
                copy=CPU + [("mode", "cpu_mode")], values=[("mode", "irq", "interrupt")]),
        "system_cpu_time_seconds_total", "mode interrupt is node_exporter's irq")
    add("node_cpu_guest_seconds_total",
        relabel('system_cpu_time_seconds_total{cpu_mode=~"guest|guest_nice"}',
                copy=CPU + [("mode", "cpu_mode")],
                values=[("mode", "user", "guest"), ("mode", "nice", "guest_nice")]),
        "system_cpu_time_seconds_total{cpu_mode=~\"guest|guest_nice\"}")
    for which, vname in [("", ""), ("_min", "_min"), ("_max", "_max")]:
        add(f"node_cpu_scaling_frequency{which}_hertz",
            relabel(f"system_cpu_frequency{vname}_hertz", copy=CPU),
            f"system_cpu_frequency{vname}_hertz", "cpu is psutil's cpufreq policy index")
    for n in ("1", "5", "15"):
        add(f"node_load{n}", f"system_cpu_load_average_{n}m", f"system_cpu_load_average_{n}m")
    add("node_context_switches_total", "system_cpu_context_switches_total",
        "system_cpu_context_switches_total")
    add("node_intr_total", "system_cpu_interrupts_total", "system_cpu_interrupts_total")

    # Memory (/proc/meminfo fields; psutil's cached is Cached + SReclaimable).
    add("node_memory_MemTotal_bytes", "system_memory_limit_bytes", "system_memory_limit_bytes")
    add("node_memory_MemAvailable_bytes", "system_memory_linux_available_bytes",
        "system_memory_linux_available_bytes")
    for field, state in [("MemFree", "free"), ("Buffers", "buffers")]:
        add(f"node_memory_{field}_bytes",
            relabel(f'system_memory_usage_bytes{{system_memory_state="{state}"}}',
                    drop=["system_memory_state"]),
            f'system_memory_usage_bytes{{system_memory_state="{state}"}}')
    add("node_memory_Cached_bytes",
        relabel('system_memory_usage_bytes{system_memory_state="cached"}', drop=["system_memory_state"])
        + "\n  - "
        + relabel('system_memory_linux_slab_usage_bytes{linux_memory_slab_state="reclaimable"}',
                  drop=["linux_memory_slab_state"]),
        'system_memory_usage_bytes{system_memory_state="cached"} minus SReclaimable')
    for field, state in [("SReclaimable", "reclaimable"), ("SUnreclaim", "unreclaimable")]:
        add(f"node_memory_{field}_bytes",
            relabel(f'system_memory_linux_slab_usage_bytes{{linux_memory_slab_state="{state}"}}',
                    drop=["linux_memory_slab_state"]),
            f'system_memory_linux_slab_usage_bytes{{linux_memory_slab_state="{state}"}}')
    add("node_memory_Slab_bytes",
        relabel("system_memory_linux_slab_usage_bytes", drop=["linux_memory_slab_state"]),
        "sum of system_memory_linux_slab_usage_bytes")
    add("node_memory_Shmem_bytes", "system_memory_shared_bytes", "system_memory_shared_bytes")
    add("node_memory_Active_bytes", "system_memory_linux_active_bytes",
        "system_memory_linux_active_bytes")
    add("node_memory_Inactive_bytes", "system_memory_linux_inactive_bytes",
        "system_memory_linux_inactive_bytes")
    add("node_memory_SwapTotal_bytes",
        relabel("system_paging_usage_bytes", drop=["system_paging_state"]),
        "sum of system_paging_usage_bytes")
    add("node_memory_SwapFree_bytes",
        relabel('system_paging_usage_bytes{system_paging_state="free"}', drop=["system_paging_state"]),
        'system_paging_usage_bytes{system_paging_state="free"}')
    for field, direction in [("pswpin", "in"), ("pswpout", "out")]:
        add(f"node_vmstat_{field}",
            relabel(f'system_paging_io_bytes_total{{system_paging_direction="{direction}"}}',
                    drop=["system_paging_direction"]) + " / 4096",
            f'system_paging_io_bytes_total{{system_paging_direction="{direction}"}} / 4096',
            "pages, as /proc/vmstat counts them")

    # Filesystems. avail is f_bavail (psutil's free), free is f_bfree (free + reserved).
    add("node_filesystem_size_bytes", relabel("system_filesystem_limit_bytes", copy=FS,
                                              drop=["system_filesystem_mode"]),
        "system_filesystem_limit_bytes")
    add("node_filesystem_avail_bytes",
        relabel('system_filesystem_usage_bytes{system_filesystem_state="free"}', copy=FS,
                drop=["system_filesystem_mode", "system_filesystem_state"]),
        'system_filesystem_usage_bytes{system_filesystem_state="free"}')
    add("node_filesystem_free_bytes",
        relabel('system_filesystem_usage_bytes{system_filesystem_state=~"free|reserved"}', copy=FS,
                drop=["system_filesystem_mode", "system_filesystem_state"]),
        'system_filesystem_usage_bytes{system_filesystem_state=~"free|reserved"}')
    add("node_filesystem_files", relabel("system_filesystem_inodes_limit", copy=FS,
                                         drop=["system_filesystem_mode"]),
        "system_filesystem_inodes_limit")
    add("node_filesystem_files_free",
        relabel('system_filesystem_inodes_usage{system_filesystem_state="free"}', copy=FS,
                drop=["system_filesystem_mode", "system_filesystem_state"]),
        'system_filesystem_inodes_usage{system_filesystem_state="free"}')
    add("node_filesystem_readonly",
        relabel('(system_filesystem_limit_bytes{system_filesystem_mode="ro"} * 0 + 1'
                ' or system_filesystem_limit_bytes * 0)', copy=FS, drop=["system_filesystem_mode"]),
        'system_filesystem_mode="ro"', "1 for a read-only mount, else 0")
    add("node_filesystem_device_error",
        relabel("(vitals_filesystem_stuck == 1 or system_filesystem_limit_bytes * 0)", copy=FS,
                drop=["system_filesystem_mode"]),
        "vitals_filesystem_stuck", "1 for a mount whose statvfs hangs, else 0")

    # Disks
    for node, vitals, direction in [
        ("read_bytes_total", "system_disk_io_bytes_total", "read"),
        ("written_bytes_total", "system_disk_io_bytes_total", "write"),
        ("reads_completed_total", "system_disk_operations_total", "read"),
        ("writes_completed_total", "system_disk_operations_total", "write"),
        ("read_time_seconds_total", "system_disk_operation_time_seconds_total", "read"),
        ("write_time_seconds_total", "system_disk_operation_time_seconds_total", "write"),
        ("reads_merged_total", "system_disk_merged_total", "read"),
        ("writes_merged_total", "system_disk_merged_total", "write"),
    ]:
        sel = f'{vitals}{{disk_io_direction="{direction}"}}'
        add(f"node_disk_{node}", relabel(sel, copy=DISK, drop=["disk_io_direction"]), sel)
    for node, vitals in [("io_time_seconds_total", "system_disk_io_time_seconds_total"),
                         ("io_time_weighted_seconds_total", "system_disk_weighted_io_time_seconds_total"),
                         ("io_now", "system_disk_pending_operations")]:
        add(f"node_disk_{node}", relabel(vitals, copy=DISK), vitals)

    # Network interfaces
    for direction, fields in [
        ("receive", [("bytes", "io_bytes"), ("packets", "packet_count"), ("errs", "errors"),
                     ("drop", "packet_dropped"), ("fifo", "linux_fifo_errors"),
                     ("frame", "linux_frame_errors"), ("compressed", "linux_compressed"),
                     ("multicast", "linux_multicast")]),
        ("transmit", [("bytes", "io_bytes"), ("packets", "packet_count"), ("errs", "errors"),
                      ("drop", "packet_dropped"), ("fifo", "linux_fifo_errors"),
                      ("colls", "linux_collisions"), ("carrier", "linux_carrier_errors"),
                      ("compressed", "linux_compressed")]),
    ]:
        for node, vitals in fields:
            sel = f'system_network_{vitals}_total{{network_io_direction="{direction}"}}'
            add(f"node_network_{direction}_{node}_total",
                relabel(sel, copy=NIC, drop=["network_io_direction"]), sel)
    add("node_network_up", relabel("system_network_interface_up", copy=NIC),
        "system_network_interface_up", "psutil's isup (IFF_RUNNING), not operstate")
    add("node_network_mtu_bytes", relabel("system_network_interface_mtu_bytes", copy=NIC),
        "system_network_interface_mtu_bytes")
    add("node_network_speed_bytes",
        relabel("system_network_interface_speed_bytes_per_second", copy=NIC),
        "system_network_interface_speed_bytes_per_second", "0 where node_exporter has no series")

    # Sockets: the tcpstat collector's states, and /proc/net/snmp's CurrEstab.
    tcp = 'system_network_connection_count{network_transport="tcp"}'
    add("node_tcp_connection_states",
        relabel(tcp, copy=[("state", "network_connection_state")],
                values=[("state", "syn_recv", "syn_received"), ("state", "fin_wait1", "fin_wait_1"),
                        ("state", "fin_wait2", "fin_wait_2"), ("state", "close", "closed")],
                drop=["network_transport", "network_type"]),
        tcp, "IPv4 and IPv6 together, as tcpstat")
    add("node_netstat_Tcp_CurrEstab",
        relabel('system_network_connection_count{network_transport="tcp",'
                'network_connection_state=~"established|close_wait"}',
                drop=["network_transport", "network_type", "network_connection_state"]),
        'system_network_connection_count{network_connection_state=~"established|close_wait"}')
    add("node_sockstat_TCP_tw",
        relabel('system_network_connection_count{network_transport="tcp",'
                'network_connection_state="time_wait"}',
                drop=["network_transport", "network_type", "network_connection_state"]),
        'system_network_connection_count{network_connection_state="time_wait"}')

    # Processes
    add("node_procs_running",
        relabel('system_process_count{process_state="running"}', drop=["process_state"]),
        'system_process_count{process_state="running"}',
        "processes; node_exporter counts runnable threads")
    add("node_procs_blocked",
        relabel('system_process_count{process_state="disk-sleep"}', drop=["process_state"]),
        'system_process_count{process_state="disk-sleep"}',
        "processes; node_exporter counts blocked threads")
    add("node_processes_state",
        relabel("system_process_count", copy=[("state", "process_state")],
                values=[("state", letter, name) for letter, name in [
                    ("R", "running"), ("S", "sleeping"), ("D", "disk-sleep"), ("T", "stopped"),
                    ("t", "tracing-stop"), ("Z", "zombie"), ("X", "dead"), ("I", "idle"),
                    ("P", "parked"), ("K", "wake-kill"), ("W", "waking")]]),
        "system_process_count", "state is the /proc/<pid>/stat letter")
    add("node_processes_pids", relabel("system_process_count", drop=["process_state"]),
        "sum of system_process_count")
    add("node_processes_threads", "system_thread_count", "system_thread_count")
    add("node_processes_max_processes", "system_process_limit", "system_process_limit")
    add("node_processes_max_threads", "system_thread_limit", "system_thread_limit")
    add("node_forks_total", "system_process_created_total", "system_process_created_total")

    # Host
    add("node_boot_time_seconds", "system_boot_time_seconds", "system_boot_time_seconds")
    add("node_time_seconds", "system_boot_time_seconds + system_uptime_seconds",
        "system_boot_time_seconds + system_uptime_seconds", "as of the host collector's last reading")
    add("node_uname_info",
        relabel("system_uname_info", copy=[(f, f"uname_{f}") for f in
                                           ("sysname", "nodename", "release", "version", "machine")]),
        "system_uname_info", "no domainname label")
    add("node_os_info",
        relabel("system_os_info", copy=[("id", "os_id"), ("version_id", "os_version"),
                                        ("name", "os_name"), ("pretty_name", "os_description")]),
        "system_os_info")

    # Sensors
    add("node_hwmon_temp_celsius", hwmon("hw_temperature_celsius"), "hw_temperature_celsius",
        "chip and sensor from hw_id; chip names differ from node_exporter's")
    for limit, name in [("critical", "crit"), ("max", "max")]:
        add(f"node_hwmon_temp_{name}_celsius",
            hwmon(f'hw_temperature_limit_celsius{{hw_limit_type="{limit}"}}', ["hw_limit_type"]),
            f'hw_temperature_limit_celsius{{hw_limit_type="{limit}"}}')
    add("node_hwmon_fan_rpm", hwmon("hw_fan_speed_rpm"), "hw_fan_speed_rpm")
    add("node_hwmon_chip_names",
        "group without (hw_id, hw_name, hw_sensor_location) ("
        'label_replace(label_replace(hw_temperature_celsius or hw_fan_speed_rpm,'
        ' "chip", "$1", "hw_id", "(.*):[^:]*"), "chip_name", "$1", "hw_name", "(.*)"))',
        "hw_name of hw_temperature_celsius, hw_fan_speed_rpm")
    add("node_hwmon_sensor_label",
        "group without (hw_id, hw_name, hw_sensor_location) ("
        'label_replace(label_replace(label_replace(hw_temperature_celsius{hw_sensor_location!=""}'
        ' or hw_fan_speed_rpm{hw_sensor_location!=""}, "chip", "$1", "hw_id", "(.*):[^:]*"),'
        ' "sensor", "$1", "hw_id", ".*:([^:]*)"), "label", "$1", "hw_sensor_location", "(.*)"))',
        "hw_sensor_location")
    add("node_power_supply_capacity",
        relabel("hw_battery_charge_ratio", copy=[("power_supply", "hw_id")]) + " * 100",
        "hw_battery_charge_ratio * 100", "percent")

    # Pressure stall information: node_exporter's pressure collector names some "waiting"
    # and full "stalled"; it has no cpu full (before 1.9) and only full for irq.
    for resource, kind, word in [("cpu", "some", "waiting"), ("cpu", "full", "stalled"),
                                 ("memory", "some", "waiting"), ("memory", "full", "stalled"),
                                 ("io", "some", "waiting"), ("io", "full", "stalled"),
                                 ("irq", "full", "stalled")]:
        selector = (f'system_pressure_stall_time_seconds_total'
                    f'{{pressure_resource="{resource}",pressure_kind="{kind}"}}')
        add(f"node_pressure_{resource}_{word}_seconds_total",
            relabel(selector, drop=["pressure_resource", "pressure_kind"]), selector)

    return r


HEADER = """\
# node_exporter compatibility: recording rules that produce node_exporter's series (names and
# labels) from vitals' own, so node-mixin and "Node Exporter Full" dashboards and alerts keep
# working while a fleet moves to vitals. GENERATED by scripts/gen_compat_rules.py: edit that.
# Coverage: docs/node-exporter-compat.md. Needs vitals' default percpu = true (the cpu label).
#
# Every label besides vitals' own (job, instance, ...) is kept. Evaluate these at the scrape
# interval (the group has no interval of its own); node_* counters then behave as the
# scraped ones in rate() and increase().
groups:
  - name: node-exporter-compat
    rules:
"""


def render_rules(rs):
    out = [HEADER]
    for rule in rs:
        out.append(f"      - record: {rule.record}\n        expr: |-\n")
        for line in rule.expr.splitlines():
            out.append(f"          {line}\n")
    return "".join(out)


def render_doc(rs):
    lines = [
        "# node_exporter compatibility",
        "",
        "`deploy/prometheus/node-exporter-compat.rules.yml` records node_exporter's series from",
        "vitals' ones, with node_exporter's names and labels, so dashboards and alerts written for",
        "node_exporter (the node-mixin, \"Node Exporter Full\") keep working while a fleet moves to",
        "vitals. Load it beside `vitals.rules.yml` (see README.md, Deploy). The series keep the",
        "scrape's `job` and `instance`; point the dashboards' job variable, or the mixin's",
        "`nodeExporterSelector`, at vitals' job (`job=\"vitals\"`).",
        "",
        "Generated with the rules by `scripts/gen_compat_rules.py`; `tests/python/test_deploy_prometheus.py`",
        "checks sample values with `promtool test rules`, and `tests/python/test_dashboards_prometheus.py`",
        "runs the node-mixin's rules and dashboard queries on them in a real Prometheus.",
        "",
        "| node_exporter series | from vitals | note |",
        "|---|---|---|",
    ]
    for rule in rs:
        source = rule.source.replace("|", "\\|")  # a pipe in a table cell must be escaped
        lines.append(f"| `{rule.record}` | `{source}` | {rule.note} |")
    lines += [
        "",
        "`up` comes from Prometheus itself (`up{job=\"vitals\"}`).",
        "",
        "Not covered (vitals has no source for them yet): `node_vmstat_pgfault`, `node_vmstat_pgmajfault`",
        "(and so the mixin's `NodeMemoryMajorPagesFaults` and `instance:node_vmstat_pgmajfault:rate5m`),",
        "`node_timex_*`, `node_filefd_*`, `node_nf_conntrack_*`, `node_entropy_*`,",
        "`node_schedstat_*`, `node_softnet_*`, most of `node_netstat_*` and `node_sockstat_*`,",
        "`node_systemd_*`, `node_md_*`, `node_bonding_*`, `node_textfile_*`, the other",
        "`node_memory_*` fields (PageTables, Dirty, HugePages, ...), `node_disk_discard*` and",
        "`node_disk_flush*`, `node_network_info` and `node_exporter_build_info`.",
        "",
        "Differences to know: hwmon `chip` names are vitals' `hw_id` device part (`coretemp.0`, not",
        "`platform_coretemp_0`); `node_network_up` is psutil's isup (IFF_RUNNING), not operstate",
        "`up`; `node_procs_running`/`blocked` count processes, not threads; `node_network_speed_bytes`",
        "is 0 where node_exporter exports nothing; `node_time_seconds` is the host's clock as of the",
        "host collector's last reading (every 30 s by default).",
        "",
    ]
    return "\n".join(lines)


def main():
    rs = rules()
    outputs = {RULES: render_rules(rs), DOC: render_doc(rs)}
    if "--check" in sys.argv[1:]:
        stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        for p in stale:
            print(f"{p.relative_to(REPO)} differs from scripts/gen_compat_rules.py's output", file=sys.stderr)
        return 1 if stale else 0
    for p, text in outputs.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
