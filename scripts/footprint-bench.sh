#!/bin/bash
# Footprint of the binary that goes onto a box: the static-stdlib release binary's size (as built
# and stripped, as the .deb carries it), the resident memory of `modbridge run` on the demo
# config (two simulated ovens on a pty, the embedded broker) once idle and again a minute later,
# with where it sits, and (with --load-bench) its resident memory polling 30,000 points/s.
# Usage: scripts/footprint-bench.sh --binary PATH [--seconds N] [--creep-seconds N]
#            [--load-bench modbridge-gateway-bench] [--write BENCHMARKS.md]
set -euo pipefail
BENCH_NAME=footprint-bench
log() { echo "footprint-bench: $*" >&2; }
die() { log "$*"; exit 1; }
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

BINARY="" SECONDS_IDLE=15 SECONDS_CREEP=60 WRITE="" LOAD_BENCH=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary) BINARY=$2; shift 2 ;;
        --seconds) SECONDS_IDLE=$2; shift 2 ;;
        --creep-seconds) SECONDS_CREEP=$2; shift 2 ;;
        --load-bench) LOAD_BENCH=$2; shift 2 ;;
        --write) WRITE=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ -x $BINARY ]] || die "--binary: $BINARY is not an executable (make static builds it)"
[[ -z $LOAD_BENCH || -x $LOAD_BENCH ]] || die "--load-bench: $LOAD_BENCH is not an executable (make bench-footprint builds it)"

size_built=$(stat -c %s "$BINARY")
cp "$BINARY" "$TMP/modbridge"
strip --strip-unneeded "$TMP/modbridge"
size_stripped=$(stat -c %s "$TMP/modbridge")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# The demo config on free ports (its MQTT and its HTTP listener), its profiles from the repository.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
http_port=$(free_port)
sed -e "s/\"port\": 1883/\"port\": $port/" -e "s/\"port\": 8080/\"port\": $http_port/" \
    -e "s#\"\\.\\./mappings\"#\"$PWD/mappings\"#" examples/demo.json >"$TMP/demo.json"
"$TMP/modbridge" check "$TMP/demo.json" >/dev/null || die "the demo config does not check"

# memory PID: "rss pss own libraries anonymous hwm threads" in KiB: VmRSS, Pss (each shared page
# divided among the processes mapping it) from smaps_rollup, and the resident pages by mapping:
# the binary's own file pages, the shared libraries', anonymous (heap, stacks, the binary's
# written data: Anonymous of every mapping, so copy-on-write pages of a file mapping count here).
memory() {
    local pid=$1 rss hwm pss threads
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")
    threads=$(ls "/proc/$pid/task" | wc -l)
    read -r own libraries anonymous < <(awk -v binary="$TMP/modbridge" '
        /^[0-9a-f]+-[0-9a-f]+ / { name = $6 }
        /^Rss:/ { rss = $2 }
        /^Anonymous:/ {
            anon += $2; file = rss - $2
            if (name == binary) own += file; else if (name ~ /\.so/) libs += file; else anon += file
        }
        END { print own + 0, libs + 0, anon + 0 }' "/proc/$pid/smaps")
    echo "$rss $pss $own $libraries $anonymous $hwm $threads"
}

# In a session of its own (bench-lib.sh stops its whole process group on every exit path).
$SETSID "$TMP/modbridge" run --quiet --config "$TMP/demo.json" </dev/null 2>"$TMP/run.log" &
PID[run]=$!
pid=${PID[run]}
log "modbridge run on the demo config (port $port), measuring after ${SECONDS_IDLE} s and $SECONDS_CREEP s later"
sleep "$SECONDS_IDLE"
kill -0 "$pid" 2>/dev/null || die "modbridge run ended: $(tail -3 "$TMP/run.log")"
read -r rss pss own libraries anonymous hwm threads < <(memory "$pid")
sleep "$SECONDS_CREEP"
kill -0 "$pid" 2>/dev/null || die "modbridge run ended: $(tail -3 "$TMP/run.log")"
read -r rss2 pss2 own2 libraries2 anonymous2 hwm2 threads2 < <(memory "$pid")
stop_broker run
problems=$(grep -cE "^level=(warning|error)" "$TMP/run.log" || true)
released=$(grep -m1 "event=startup_pages_released" "$TMP/run.log" | grep -o "resident_kib=[0-9]*" | cut -d= -f2 || true)

# RSS at 30,000 points/s: the gateway bench's load run (100 simulated Modbus TCP devices × 30
# points every 100 ms, every point published) against this same stripped binary.
load_line=""
if [[ -n $LOAD_BENCH ]]; then
    log "modbridge run polling 100 simulated Modbus TCP devices × 30 points every 100 ms"
    load_line=$("$LOAD_BENCH" --modbridge "$TMP/modbridge" --footprint-line --seconds 20 | grep '^footprint ') ||
        die "the load bench gave no footprint line"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }
bytes_met() { awk -v k="$1" 'BEGIN { print (k * 1024 <= 10000000) ? "yes" : "**no**" }'; }
size_met=$(awk -v b="$size_stripped" 'BEGIN { print (b <= 15000000) ? "yes" : "**no**" }')
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
split_cells() { echo "$(mib "$1") MiB | $(mib "$2") MiB | $(mib "$3") MiB | $(mib "$4") MiB | $(mib "$5") MiB"; }

{
    echo "<!-- footprint-bench:start -->"
    echo "## Footprint: the shipped binary's size and idle memory"
    echo
    echo "Measured $(date +%Y-%m-%d) on ${cpu:-unknown CPU}, $(nproc) cores, $(uname -srm), with \`make bench-footprint\`"
    echo "(\`scripts/footprint-bench.sh --binary .build-static/release/modbridge --load-bench .build/release/modbridge-gateway-bench --write BENCHMARKS.md\`);"
    echo "load average (1, 5, 15 min) $load_before before, $load_after after (the load run's own ~200 threads"
    echo "of simulators, gateway and subscriber count in the second)."
    echo
    echo "The binary the \`.deb\` carries: release, \`--static-swift-stdlib\`, stripped; no Foundation in it."
    echo "Idle: \`modbridge run\` on examples/demo.json (two simulated ovens on a pty keeping a real 9600 baud"
    echo "line's times, the embedded broker, no client), measured ${SECONDS_IDLE} s after start and again $SECONDS_CREEP s later."
    echo "RSS is VmRSS; Pss divides each shared page among the processes that map it (libc is"
    echo "shared with every process on a box). The split: the binary's file pages, the shared libraries'"
    echo "file pages, and anonymous memory (heap, stacks, the pages of .data and of the libraries' relocated"
    echo "tables the process has written). Five seconds after start-up \`modbridge run\` drops its"
    echo "page-table entries for the code and read-only data start-up touched (\`madvise(MADV_DONTNEED)\` on"
    echo "private read-only file mappings holding no written page: \`startup_pages_released\` in its log,"
    echo "here ${released:-?} KiB); what it runs on afterwards faults back from the page cache, which is what the"
    echo "second measurement shows. The code idle running executes is laid out together at link time"
    echo "(\`make static\`: \`-function-sections\` and scripts/idle-code-order.txt), so that it comes back as a few"
    echo "dense 64 KiB fault-around windows rather than one page in each of ~80 spread over 7.7 MB of code."
    echo
    echo "| row | figure | target | met |"
    echo "|---|---|---|---|"
    echo "| binary, stripped | $(mb "$size_stripped") MB ($size_stripped bytes; $(mb "$size_built") MB as built) | ≤ 15 MB | $size_met |"
    echo "| idle resident memory (VmRSS) after ${SECONDS_IDLE} s | $(mib "$rss") MiB ($((rss * 1024)) bytes; Pss $(mib "$pss") MiB, $threads threads) | ≤ 10 MB | $(bytes_met "$rss") |"
    echo "| idle resident memory (VmRSS) after $((SECONDS_IDLE + SECONDS_CREEP)) s | $(mib "$rss2") MiB ($((rss2 * 1024)) bytes; Pss $(mib "$pss2") MiB, peak $(mib "$hwm2") MiB) | ≤ 10 MB | $(bytes_met "$rss2") |"
    echo
    echo "| where the resident memory sits | VmRSS | Pss | binary's file pages | shared libraries' file pages | anonymous |"
    echo "|---|---|---|---|---|---|"
    echo "| idle, after ${SECONDS_IDLE} s | $(split_cells "$rss" "$pss" "$own" "$libraries" "$anonymous") |"
    echo "| idle, after $((SECONDS_IDLE + SECONDS_CREEP)) s | $(split_cells "$rss2" "$pss2" "$own2" "$libraries2" "$anonymous2") |"
    if [[ -n $load_line ]]; then
        LINE=$load_line
        echo "| polling at $(kv points_per_s) points/s | $(split_cells "$(kv rss_kib)" "$(kv pss_kib)" "$(kv own_kib)" "$(kv libraries_kib)" "$(kv anonymous_kib)") |"
        echo
        echo "**RSS at 30,000 points/s**: the same stripped binary, \`modbridge run\` polling $(kv devices) simulated Modbus TCP"
        echo "devices × $(kv points) points every $(kv interval), every point published at every poll (the gateway bench's"
        echo "load run: each device its own bus and TCP connection, the simulators in the bench's process, one MQTT"
        echo "client subscribed to every device's events at QoS 1 counting the points delivered), measured over"
        echo "$(kv seconds) s after every device was online and 2 s more: $(kv points_per_s) points/s delivered"
        echo "($(kv requests_per_s) requests/s), $(kv cpu_percent) % of one core, $(kv threads) threads."
        echo
        echo "| row | figure |"
        echo "|---|---|"
        echo "| RSS at 30,000 points/s | $(mib "$(kv rss_kib)") MiB (Pss $(mib "$(kv pss_kib)") MiB, peak $(mib "$(kv peak_kib)") MiB; $(kv points_per_s) points/s measured) |"
    fi
    echo "<!-- footprint-bench:end -->"
} >"$TMP/section.md"
cat "$TMP/section.md"
log "$problems warning/error lines in the run's log"
if [[ -n $WRITE ]]; then write_section "<!-- footprint-bench:start -->" "<!-- footprint-bench:end -->" "$TMP/section.md"; fi
