#!/usr/bin/env python3
"""Generates the Grafana dashboards in dashboards/ with grafana-foundation-sdk's typed builders.

    scripts/gen_dashboards.py          writes dashboards/*.json
    scripts/gen_dashboards.py --check  exits 1 when a committed dashboard differs from the output

Needs grafana-foundation-sdk (tests/python/requirements.txt; `.venv/bin/python
scripts/gen_dashboards.py`). Every panel has a unit, every target selects
job="$job",instance="$instance" (S, or G with the process group, P with the pid too) and every rate() uses
$__rate_interval (R). tests/python/test_dashboards_prometheus.py runs each target, variables
substituted, on a real Prometheus scraping vitals.

A dashboard is one function returning a `Board`: its variables past datasource/job/instance,
then rows of panels made with `timeseries`, `stat` and `table`. Add the function to DASHBOARDS.
"""
import json
import pathlib
import sys

try:
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.builders import prometheus, stat as statb, table as tableb, timeseries as tsb
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models import common
    from grafana_foundation_sdk.models.dashboard import (
        DashboardCursorSync, DataSourceRef, DataTransformerConfig, GridPos, VariableOption,
        VariableRefresh, VariableSort)
except ImportError as e:
    sys.exit(f"{e}: run with the test venv, .venv/bin/python (tests/python/requirements.txt)")

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = REPO / "dashboards"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
S = 'job="$job",instance="$instance"'
G = S + ',process_group=~"$process_group"'
P = G + ',process_pid=~"$process_pid"'
R = "$__rate_interval"
GRID_WIDTH = 24


# ---------------------------------------------------------------------------- shared helpers
def q(expr, legend=""):
    """A range query; its legend is the series' labels unless one is given."""
    return prometheus.Dataquery().expr(expr).legend_format(legend or "__auto").range()


def _queries(panel, queries, table_format=False):
    for i, query in enumerate(queries):
        query.ref_id(chr(ord("A") + i)).datasource(DS)
        if table_format:
            query.format("table")
        panel.with_target(query)
    return panel


def _common(panel, title, unit, description, max_, decimals, width, height):
    panel.title(title).datasource(DS).unit(unit).span(width).height(height)
    if description:
        panel.description(description)
    if max_ is not None:
        panel.min(0).max(max_)
    if decimals is not None:
        panel.decimals(decimals)
    return panel


def timeseries(title, unit, *queries, description="", stack=False, max_=None, decimals=None,
               width=12, height=8):
    """Lines over time, several queries, optionally stacked."""
    p = (tsb.Panel().draw_style(common.GraphDrawStyle.LINE).line_width(1)
         .fill_opacity(10 if stack else 0).show_points(common.VisibilityMode.NEVER).span_nulls(False)
         .stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL if stack else common.StackingMode.NONE)
                   .group("A"))
         .legend(cb.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST)
                 .placement(common.LegendPlacement.BOTTOM).show_legend(True))
         .tooltip(cb.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                  .sort(common.SortOrder.DESCENDING)))
    _common(p, title, unit, description, max_, decimals, width, height)
    return _queries(p, queries)


def stat(title, unit, expr, description="", max_=None, decimals=None, width=4, height=4):
    """One instant value, its last non-null reading."""
    p = (statb.Panel().color_mode(common.BigValueColorMode.VALUE).graph_mode(common.BigValueGraphMode.NONE)
         .text_mode(common.BigValueTextMode.AUTO)
         .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)))
    _common(p, title, unit, description, max_, decimals, width, height)
    return _queries(p, [prometheus.Dataquery().expr(expr).legend_format("__auto").instant()])


def table(title, unit, expr, description="", width=24, height=8):
    """The labels of an instant query as columns, one row per series."""
    p = (tableb.Panel().show_header(True).cell_height(common.TableCellHeight.SM)
         .with_transformation(DataTransformerConfig(id_val="labelsToFields", options={}))
         .with_transformation(DataTransformerConfig(id_val="organize",
                                                    options={"excludeByName": {"Time": True}})))
    _common(p, title, unit, description, None, None, width, height)
    return _queries(p, [prometheus.Dataquery().expr(expr).legend_format("__auto").instant()],
                    table_format=True)


def query_variable(name, query, refresh, label=None, all_=False, current=None):
    v = (db.QueryVariable(name).label(label or name).datasource(DS)
         .query({"query": query, "refId": f"{name}-variable"}).refresh(refresh)
         .sort(VariableSort.ALPHABETICAL_ASC).include_all(all_).multi(all_).regex(""))
    if all_:
        v.all_value(".*").current(VariableOption(selected=True, text="All", value="$__all"))
    elif current:
        v.current(VariableOption(selected=True, text=current, value=current))
    return v


class Board:
    """One dashboard: rows of panels laid left to right, wrapping at the grid's width."""

    def __init__(self, uid, title, description, variables=()):
        self.builder = (db.Dashboard(title).uid(uid).description(description).tags(["vitals"])
                        .editable().tooltip(DashboardCursorSync.CROSSHAIR).version(1).refresh("30s")
                        .time("now-6h", "now").timezone("browser")
                        .with_variable(db.DatasourceVariable("datasource").label("Data source").type("prometheus"))
                        .with_variable(query_variable("job", "label_values(vitals_build_info, job)",
                                                      VariableRefresh.ON_DASHBOARD_LOAD, current="vitals"))
                        .with_variable(query_variable("instance",
                                                      'label_values(vitals_build_info{job="$job"}, instance)',
                                                      VariableRefresh.ON_TIME_RANGE_CHANGED)))
        for v in variables:
            self.builder.with_variable(v)
        self.id, self.x, self.y, self.row_height = 1, 0, 0, 0

    def row(self, title, *panels):
        self.y += self.row_height if self.x else 0
        self.x, self.row_height = 0, 0
        self._add(db.Row(title).collapsed(False), GridPos(h=1, w=GRID_WIDTH, x=0, y=self.y))
        self.y += 1
        for p in panels:
            pos = p.build().grid_pos
            if self.x + pos.w > GRID_WIDTH:
                self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
            self._add(p, GridPos(h=pos.h, w=pos.w, x=self.x, y=self.y))
            self.x += pos.w
            self.row_height = max(self.row_height, pos.h)
        return self

    def _add(self, panel, pos):
        # Positions are set here, not by the SDK's own layout, which does not wrap a panel that
        # would overflow the row.
        panel.id(self.id).grid_pos(pos)
        self.id += 1
        if isinstance(panel, db.Row):
            self.builder.with_row(panel)
        else:
            self.builder.with_panel(panel)

    def json(self):
        return json.dumps(self.builder.build(), cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- host overview
def host():
    return (
        Board("vitals-host", "vitals / Host", "One host: CPU, memory, filesystems, disks, network, sensors")
        .row("Overview",
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
                  description="Mounts whose statvfs did not answer (a dead NFS, CIFS or FUSE server)"))
        .row("CPU",
             timeseries("CPU by mode", "percentunit",
                        q(f'sum by (cpu_mode) (rate(system_cpu_time_seconds_total{{{S},cpu_mode!~"idle|guest|guest_nice"}}[{R}]))'
                          f" / scalar(system_cpu_logical_count{{{S}}})", "{{cpu_mode}}"),
                        stack=True, max_=1,
                        description="All CPUs together; guest time is inside user and nice, as psutil reports it"),
             timeseries("Utilization per core", "percentunit",
                        q(f'1 - sum by (cpu_logical_number) (system_cpu_utilization_ratio{{{S},cpu_mode=~"idle|iowait"}})',
                          "cpu {{cpu_logical_number}}"), max_=1),
             timeseries("CPU per core and mode", "percentunit",
                        q(f'rate(system_cpu_time_seconds_total{{{S},cpu_mode!~"idle|guest|guest_nice"}}[{R}])',
                          "cpu {{cpu_logical_number}} {{cpu_mode}}"), stack=True),
             timeseries("Load per core", "none",
                        *(q(f"system_cpu_load_average_{m}{{{S}}} / system_cpu_logical_count{{{S}}}", m)
                          for m in ("1m", "5m", "15m"))),
             timeseries("Frequency", "hertz",
                        q(f"system_cpu_frequency_hertz{{{S}}}", "cpu {{cpu_logical_number}}")),
             timeseries("Context switches and interrupts", "ops",
                        q(f"rate(system_cpu_context_switches_total{{{S}}}[{R}])", "context switches"),
                        q(f"rate(system_cpu_interrupts_total{{{S}}}[{R}])", "interrupts"),
                        q(f"rate(system_cpu_soft_interrupts_total{{{S}}}[{R}])", "soft interrupts")))
        .row("Memory and swap",
             timeseries("Memory", "bytes",
                        q(f"system_memory_usage_bytes{{{S}}}", "{{system_memory_state}}"),
                        q(f"system_memory_linux_available_bytes{{{S}}}", "available"),
                        q(f"system_memory_limit_bytes{{{S}}}", "total"),
                        description="psutil's states: used = total - available; cached includes SReclaimable"),
             timeseries("Memory utilization", "percentunit",
                        q(f"1 - system_memory_linux_available_bytes{{{S}}} / system_memory_limit_bytes{{{S}}}",
                          "used"), max_=1),
             timeseries("Swap", "bytes", q(f"system_paging_usage_bytes{{{S}}}", "{{system_paging_state}}"),
                        stack=True),
             timeseries("Swap in and out", "Bps",
                        q(f"rate(system_paging_io_bytes_total{{{S}}}[{R}])", "{{system_paging_direction}}")))
        .row("Filesystems",
             timeseries("Space used", "percentunit",
                        q(f'system_filesystem_utilization_ratio{{{S},system_filesystem_state="used"}}',
                          "{{system_filesystem_mountpoint}}"), max_=1,
                        description="As df's Use%: used / (used + available to users)"),
             timeseries("Space available", "bytes",
                        q(f'system_filesystem_usage_bytes{{{S},system_filesystem_state="free"}}',
                          "{{system_filesystem_mountpoint}}")),
             timeseries("Inodes used", "percentunit",
                        q(f'system_filesystem_inodes_usage{{{S},system_filesystem_state="used"}}'
                          f" / ignoring (system_filesystem_state) (system_filesystem_inodes_limit{{{S}}} > 0)",
                          "{{system_filesystem_mountpoint}}"), max_=1),
             table("Filesystems", "bytes", f"system_filesystem_limit_bytes{{{S}}}",
                   description="Size of each mounted filesystem vitals reads, with its device, type and mode"))
        .row("Disks",
             timeseries("Disk throughput", "Bps",
                        q(f"rate(system_disk_io_bytes_total{{{S}}}[{R}])", "{{system_device}} {{disk_io_direction}}")),
             timeseries("Disk operations", "iops",
                        q(f"rate(system_disk_operations_total{{{S}}}[{R}])",
                          "{{system_device}} {{disk_io_direction}}")),
             timeseries("Disk busy time", "percentunit",
                        q(f"rate(system_disk_io_time_seconds_total{{{S}}}[{R}])", "{{system_device}}"),
                        description="Share of the time the device had I/O in flight (iostat's %util)", max_=1),
             timeseries("Disk latency", "s",
                        q(f"rate(system_disk_operation_time_seconds_total{{{S}}}[{R}])"
                          f" / rate(system_disk_operations_total{{{S}}}[{R}])",
                          "{{system_device}} {{disk_io_direction}}"),
                        description="Average time per completed read or write"),
             timeseries("Disk queue", "none",
                        q(f"rate(system_disk_weighted_io_time_seconds_total{{{S}}}[{R}])", "{{system_device}}"),
                        description="Average requests in flight (iostat's aqu-sz)"))
        .row("Network",
             *(timeseries(title, unit, q(f"rate({metric}{{{S}}}[{R}])",
                                         "{{network_interface_name}} {{network_io_direction}}"))
               for title, unit, metric in [("Traffic", "Bps", "system_network_io_bytes_total"),
                                           ("Packets", "pps", "system_network_packet_count_total"),
                                           ("Errors", "pps", "system_network_errors_total"),
                                           ("Drops", "pps", "system_network_packet_dropped_total")]),
             timeseries("Connections by state", "none",
                        q(f"sum by (network_transport, network_connection_state) (system_network_connection_count{{{S}}})",
                          "{{network_transport}} {{network_connection_state}}")),
             timeseries("Interfaces up", "none",
                        q(f"system_network_interface_up{{{S}}}", "{{network_interface_name}}"), max_=1))
        .row("Hardware",
             timeseries("Temperatures", "celsius",
                        q(f"hw_temperature_celsius{{{S}}}", "{{hw_name}} {{hw_sensor_location}} ({{hw_id}})"),
                        q(f'hw_temperature_limit_celsius{{{S},hw_limit_type="critical"}}',
                          "critical {{hw_name}} {{hw_sensor_location}} ({{hw_id}})")),
             timeseries("Fans", "rotrpm",
                        q(f"hw_fan_speed_rpm{{{S}}}", "{{hw_name}} {{hw_sensor_location}} ({{hw_id}})")),
             timeseries("Battery charge", "percentunit", q(f"hw_battery_charge_ratio{{{S}}}", "{{hw_id}}"), max_=1),
             timeseries("Battery time left", "s", q(f"hw_battery_time_left_seconds{{{S}}}", "{{hw_id}}"),
                        description="Absent while on mains power"))
        .row("System",
             timeseries("Processes by state", "none", q(f"system_process_count{{{S}}}", "{{process_state}}")),
             timeseries("Threads", "none", q(f"system_thread_count{{{S}}}", "threads")),
             timeseries("Logged-in users", "none", q(f"system_users_count{{{S}}}", "{{user_name}}")),
             timeseries("Uptime", "s", q(f"system_uptime_seconds{{{S}}}", "uptime")))
    )


# ---------------------------------------------------------------------------- processes
def processes():
    def by_group(title, unit, metric, extra="", rate=False, **kw):
        """One series per process group (and `extra` label), summed over its processes."""
        inner = f"rate({metric}{{{G}}}[{R}])" if rate else f"{metric}{{{G}}}"
        labels = "process_group" + (f", {extra}" if extra else "")
        legend = "{{process_group}}" + (f" {{{{{extra}}}}}" if extra else "")
        return timeseries(title, unit, q(f"sum by ({labels}) ({inner})", legend), **kw)

    def by_process(title, unit, metric, extra="", rate=False, select="", **kw):
        """One series per process with per-process series (and `extra` label)."""
        inner = f"rate({metric}{{{P}{select}}}[{R}])" if rate else f"{metric}{{{P}{select}}}"
        labels = "process_pid, process_executable_name" + (f", {extra}" if extra else "")
        legend = "{{process_executable_name}} {{process_pid}}" + (f" {{{{{extra}}}}}" if extra else "")
        return timeseries(title, unit, q(f"sum by ({labels}) ({inner})", legend), **kw)

    group = query_variable("process_group", f"label_values(process_count{{{S}}}, process_group)",
                           VariableRefresh.ON_TIME_RANGE_CHANGED, label="group", all_=True)
    pid = query_variable("process_pid", f"label_values(process_detail_info{{{G}}}, process_pid)",
                         VariableRefresh.ON_TIME_RANGE_CHANGED, label="pid", all_=True)
    return (
        Board("vitals-processes", "vitals / Processes",
              "Process groups, the top processes and per-process detail of one host", [group, pid])
        .row("Groups",
             by_group("CPU by group", "percentunit", "process_cpu_time_seconds_total", rate=True,
                      description="CPU time per second: 1 is one logical CPU busy"),
             by_group("CPU by group and mode", "percentunit", "process_cpu_time_seconds_total", "cpu_mode",
                      rate=True, stack=True),
             by_group("CPU utilization by group", "percentunit", "process_cpu_utilization_ratio"),
             by_group("Resident memory by group", "bytes", "process_memory_usage_bytes"),
             by_group("Virtual memory by group", "bytes", "process_memory_virtual_bytes"),
             by_group("Disk I/O by group", "Bps", "process_disk_io_bytes_total", "disk_io_direction", rate=True),
             by_group("Open file descriptors by group", "none", "process_unix_file_descriptor_count"),
             by_group("Threads by group", "none", "process_thread_count"),
             by_group("Context switches by group", "ops", "process_context_switches_total",
                      "process_context_switch_type", rate=True),
             by_group("Page faults by group", "ops", "process_paging_faults_total", "system_paging_fault_type",
                      rate=True),
             by_group("Processes by group and state", "none", "process_count", "process_state"),
             by_group("Processes started by group", "ops", "process_started_total", rate=True,
                      description="New processes per second: restarts in a pool, fork rates"),
             by_group("I/O syscalls by group", "ops", "process_io_operations_total", "disk_io_direction",
                      rate=True),
             timeseries("All processes by state", "none", q(f"system_process_count{{{S}}}", "{{process_state}}"),
                        description="Every process of the host, grouped or not"))
        .row("Top processes",
             table("Top processes by CPU", "percentunit", f"topk(10, process_top_cpu_utilization_ratio{{{G}}})"),
             table("Top processes by memory", "bytes", f"topk(10, process_top_memory_usage_bytes{{{G}}})"))
        .row("Per process",
             table("Processes with per-process series", "none", f"process_detail_info{{{P}}}",
                   description="The top_n by CPU, RSS and disk I/O, and the processes of per_process groups"),
             by_process("CPU by process", "percentunit", "process_detail_cpu_time_seconds_total", rate=True,
                        select=',cpu_mode=~"user|system"', description="CPU time per second: 1 is one logical CPU busy"),
             by_process("Resident memory by process", "bytes", "process_detail_memory_usage_bytes"),
             by_process("Disk I/O by process", "Bps", "process_detail_disk_io_bytes_total", "disk_io_direction",
                        rate=True),
             by_process("I/O syscalls by process", "ops", "process_detail_io_operations_total", "disk_io_direction",
                        rate=True),
             by_process("Context switches by process", "ops", "process_detail_context_switches_total",
                        "process_context_switch_type", rate=True),
             timeseries("Descriptors used of the soft limit", "percentunit",
                        q(f"process_detail_unix_file_descriptor_count{{{P}}}"
                          f" / ignoring(process_rlimit_resource, process_rlimit_kind)"
                          f" (process_detail_rlimit{{{P},process_rlimit_resource=\"nofile\",process_rlimit_kind=\"soft\"}} > 0)",
                          "{{process_executable_name}} {{process_pid}}"), max_=1),
             timeseries("Process age", "s",
                        q(f"time() - process_detail_start_time_seconds{{{P}}}", "{{process_executable_name}} {{process_pid}}")),
             timeseries("Busiest threads", "percentunit",
                        q(f"sum by (process_pid, thread_id, thread_name) "
                          f"(rate(process_detail_thread_cpu_time_seconds_total{{{P}}}[{R}]))",
                          "{{process_pid}} {{thread_name}} {{thread_id}}")),
             by_process("Threads by process", "none", "process_detail_thread_count"))
    )


# ---------------------------------------------------------------------------- workloads
def workloads():
    """Services, containers and pods: the cgroups collector's series, one line per cgroup."""
    W = S + ',cgroup_path=~"$cgroup"'
    name = "{{cgroup_path}}"

    def per_cgroup(title, unit, expr, legend=name, **kw):
        return timeseries(title, unit, q(expr, legend), **kw)

    cgroup = query_variable("cgroup", f"label_values(container_cpu_time_seconds_total{{{S}}}, cgroup_path)",
                            VariableRefresh.ON_TIME_RANGE_CHANGED, label="cgroup", all_=True)
    return (
        Board("vitals-workloads", "vitals / Services, containers and pods",
              "Per cgroup: CPU, throttling, memory, IO, tasks and pressure of the services, containers and pods of one host",
              [cgroup])
        .row("Overview",
             stat("Cgroups", "none", f"count(count by (cgroup_path) (container_cpu_time_seconds_total{{{W}}}))",
                  description="Cgroups exported (services, scopes, containers); vitals_cgroups_folded more were left out"),
             stat("CPU used", "none", f"sum(rate(container_cpu_time_seconds_total{{{W}}}[{R}]))", decimals=2,
                  description="CPUs' worth of time used by the cgroups together"),
             stat("Memory used", "bytes", f"sum(container_memory_usage_bytes{{{W}}})"),
             stat("OOM kills", "none",
                  f'sum(container_memory_events_total{{{W},container_memory_event="oom_kill"}})',
                  description="Tasks killed for hitting memory.max, since the cgroups were created"),
             stat("Host memory pressure", "percentunit",
                  f'rate(system_pressure_stall_time_seconds_total{{{S},pressure_resource="memory",pressure_kind="some"}}[{R}])',
                  description="Share of time some task of the host waited for memory (/proc/pressure/memory)"),
             stat("Host CPU pressure", "percentunit",
                  f'rate(system_pressure_stall_time_seconds_total{{{S},pressure_resource="cpu",pressure_kind="some"}}[{R}])',
                  description="Share of time some runnable task of the host waited for a CPU"))
        .row("CPU",
             per_cgroup("CPU", "none", f"sum by (cgroup_path) (rate(container_cpu_time_seconds_total{{{W}}}[{R}]))",
                        description="CPU time per second: 1 is one CPU busy"),
             per_cgroup("CPU used of the quota", "percentunit",
                        f"sum by (cgroup_path) (rate(container_cpu_time_seconds_total{{{W}}}[{R}]))"
                        f" / on (cgroup_path) group_left () max by (cgroup_path) (container_cpu_limit{{{W}}})",
                        description="CPU used over the quota of cpu.max (only cgroups with a quota)"),
             per_cgroup("Throttled periods", "percentunit",
                        f"rate(container_cpu_throttling_throttled_periods_total{{{W}}}[{R}])"
                        f" / rate(container_cpu_throttling_periods_total{{{W}}}[{R}])", max_=1,
                        description="Share of the quota's periods in which the cgroup was throttled"),
             per_cgroup("Throttled time", "s", f"rate(container_cpu_throttling_time_seconds_total{{{W}}}[{R}])",
                        description="Time per second the cgroup's tasks were held off the CPU by the quota"))
        .row("Memory",
             per_cgroup("Working set", "bytes", f"container_memory_working_set_bytes{{{W}}}",
                        description="memory.current minus inactive_file: what kubectl top and the kubelet's eviction see"),
             per_cgroup("Working set of the limit", "percentunit",
                        f"container_memory_working_set_bytes{{{W}}} / container_memory_limit_bytes{{{W}}}", max_=1,
                        description="Only cgroups with a memory.max; at 1 the next allocation is an OOM kill"),
             timeseries("Usage by type", "bytes",
                        *(q(f"container_memory_{kind}_bytes{{{W}}}", f"{name} {kind}")
                          for kind in ("anon", "file", "kernel", "sock")),
                        stack=True, description="memory.stat: anonymous, page cache, kernel and socket memory"),
             per_cgroup("Memory events", "ops", f"rate(container_memory_events_total{{{W}}}[{R}])",
                        "{{cgroup_path}} {{container_memory_event}}",
                        description="memory.events per second: high (throttled), max (hit the limit), oom, oom_kill"),
             per_cgroup("Major page faults", "ops",
                        f'rate(container_memory_paging_faults_total{{{W},system_paging_fault_type="major"}}[{R}])'),
             per_cgroup("Swap", "bytes", f"container_memory_swap_usage_bytes{{{W}}}"))
        .row("IO and tasks",
             per_cgroup("Disk throughput", "Bps",
                        f"sum by (cgroup_path, disk_io_direction) (rate(container_disk_io_bytes_total{{{W}}}[{R}]))",
                        "{{cgroup_path}} {{disk_io_direction}}"),
             per_cgroup("Disk operations", "iops",
                        f"sum by (cgroup_path, disk_io_direction) (rate(container_disk_operations_total{{{W}}}[{R}]))",
                        "{{cgroup_path}} {{disk_io_direction}}"),
             per_cgroup("Processes", "none", f"container_process_count{{{W}}}"),
             per_cgroup("Tasks", "none", f"container_task_count{{{W}}}",
                        description="Threads in the cgroup (pids.current)"))
        .row("Pressure",
             *(per_cgroup(f"{res.upper() if res != 'memory' else 'Memory'} pressure", "percentunit",
                          f'rate(container_pressure_stall_time_seconds_total{{{W},pressure_resource="{res}"}}[{R}])',
                          "{{cgroup_path}} {{pressure_kind}}", max_=1,
                          description=f"Share of time some (or all, full) of the cgroup's tasks waited for {res}")
               for res in ("cpu", "memory", "io")),
             timeseries("Host pressure", "percentunit",
                        q(f"rate(system_pressure_stall_time_seconds_total{{{S}}}[{R}])",
                          "{{pressure_resource}} {{pressure_kind}}"), max_=1,
                        description="/proc/pressure: the share of time the host's tasks stalled"))
        .row("Kubernetes pods",
             table("Pods", "bytes",
                   f"sum by (k8s_namespace_name, k8s_pod_name, k8s_pod_uid, k8s_pod_qos_class) "
                   f"(container_memory_working_set_bytes{{{W},k8s_pod_uid!=\"\"}})",
                   description="Working set per pod: the sum of its containers' (the pause container included)"))
    )


# ---------------------------------------------------------------------------- vitals itself
def daemon():
    return (
        Board("vitals-self", "vitals / Daemon", "vitals itself: collectors, errors, staleness, series, OTLP")
        .row("Collectors",
             stat("Series served", "none", f"sum(vitals_collector_series{{{S}}})"),
             stat("Collectors failing", "none", f"count(vitals_collector_up{{{S}}} == 0) or vector(0)"),
             stat("Scrape duration", "s", f"scrape_duration_seconds{{{S}}}"),
             table("Build", "none", f"vitals_build_info{{{S}}}", width=12, height=4),
             timeseries("Collector up", "none", q(f"vitals_collector_up{{{S}}}", "{{collector}}"), max_=1),
             timeseries("Collection duration", "s", q(f"vitals_collector_duration_seconds{{{S}}}", "{{collector}}")),
             timeseries("Time since last success", "s",
                        q(f"time() - vitals_collector_last_success_timestamp_seconds{{{S}}}", "{{collector}}"),
                        description="Staleness: a collector's series are dropped after stale_after intervals without success"),
             timeseries("Errors by kind", "cps",
                        q(f"sum by (collector, kind) (rate(vitals_collector_errors_total{{{S}}}[{R}]))",
                          "{{collector}} {{kind}}")),
             timeseries("Series by collector", "none", q(f"vitals_collector_series{{{S}}}", "{{collector}}"),
                        stack=True),
             timeseries("Samples scraped", "none", q(f"scrape_samples_scraped{{{S}}}", "samples")))
        .row("OTLP export",
             timeseries("OTLP exports", "cps",
                        q(f"sum by (outcome) (rate(vitals_otlp_exports_total{{{S}}}[{R}]))", "{{outcome}}")),
             timeseries("Time since last OTLP success", "s",
                        q(f"time() - vitals_otlp_last_success_timestamp_seconds{{{S}}}", "since last success")))
    )


DASHBOARDS = {
    "vitals-host.json": host,
    "vitals-processes.json": processes,
    "vitals-self.json": daemon,
    "vitals-workloads.json": workloads,
}


def main():
    rendered = {name: make().json() for name, make in DASHBOARDS.items()}
    if "--check" in sys.argv[1:]:
        stale = [n for n, text in rendered.items()
                 if not (OUT / n).exists() or (OUT / n).read_text() != text]
        for n in stale:
            print(f"dashboards/{n} differs from scripts/gen_dashboards.py's output", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
