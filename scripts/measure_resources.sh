#!/usr/bin/env bash
# Measures what vitals costs on this host, for the resource figures in deploy/ (systemd
# MemoryMax, Kubernetes requests and limits):
#
#   scripts/measure_resources.sh [BINARY] [SECONDS]   defaults: the release build, 60 s
#
# Runs the daemon with the built-in default config on a loopback port, scrapes /metrics once a
# second (as a 1 s Prometheus would, the worst case), then prints the peak and current RSS
# (/proc/PID/status VmHWM, VmRSS), the CPU time used (utime + stime in /proc/PID/stat), the
# threads and the series served.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/vitals}
secs=${2:-60}
port=${VITALS_MEASURE_PORT:-19977}

"$bin" --listen "127.0.0.1:$port" --log-level error &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
sleep 1
scrapes=0
end=$((SECONDS + secs))
while [ "$SECONDS" -lt "$end" ]; do
    curl -fsS -o /dev/null -H 'Accept: application/openmetrics-text' "http://127.0.0.1:$port/metrics"
    scrapes=$((scrapes + 1))
    sleep 1
done
series=$(curl -fsS "http://127.0.0.1:$port/metrics" | grep -vc '^#')
read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
ticks=$(getconf CLK_TCK)
awk -v u="$utime" -v s="$stime" -v t="$ticks" -v w="$secs" -v n="$scrapes" -v series="$series" \
    -v threads="$(ls "/proc/$pid/task" | wc -l)" '
    /^VmHWM/ { hwm = $2 } /^VmRSS/ { rss = $2 }
    END {
        cpu = (u + s) / t
        printf "peak RSS %.1f MiB, RSS %.1f MiB, CPU %.2f s in %d s (%.2f%% of a core), %d threads, %d series, %d scrapes\n",
            hwm / 1024, rss / 1024, cpu, w, 100 * cpu / w, threads, series, n
    }' "/proc/$pid/status"
