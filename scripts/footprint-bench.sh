#!/bin/bash
# Footprint of the binary that goes onto a box: the static-stdlib release binary's size (as built
# and stripped, as the .deb carries it), and the resident memory of `modbridge run` on the demo
# config (two simulated ovens on a pty, the embedded broker) once idle, with where it sits.
# Usage: scripts/footprint-bench.sh --binary PATH [--seconds N] [--write BENCHMARKS.md]
set -euo pipefail
BENCH_NAME=footprint-bench
log() { echo "footprint-bench: $*" >&2; }
die() { log "$*"; exit 1; }
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

BINARY="" SECONDS_IDLE=30 WRITE=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary) BINARY=$2; shift 2 ;;
        --seconds) SECONDS_IDLE=$2; shift 2 ;;
        --write) WRITE=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ -x $BINARY ]] || die "--binary: $BINARY is not an executable (make static builds it)"

size_built=$(stat -c %s "$BINARY")
cp "$BINARY" "$TMP/modbridge"
strip --strip-unneeded "$TMP/modbridge"
size_stripped=$(stat -c %s "$TMP/modbridge")

# The demo config on a free port, its profiles from the repository.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s/\"port\": 1883/\"port\": $port/" -e "s#\"\\.\\./mappings\"#\"$PWD/mappings\"#" examples/demo.json >"$TMP/demo.json"
"$TMP/modbridge" check "$TMP/demo.json" >/dev/null || die "the demo config does not check"

# In a session of its own (bench-lib.sh stops its whole process group on every exit path).
$SETSID "$TMP/modbridge" run --quiet --config "$TMP/demo.json" </dev/null 2>"$TMP/run.log" &
PID[run]=$!
log "modbridge run on the demo config (port $port), measuring after ${SECONDS_IDLE} s"
sleep "$SECONDS_IDLE"
pid=${PID[run]}
kill -0 "$pid" 2>/dev/null || die "modbridge run ended: $(tail -3 "$TMP/run.log")"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
threads=$(ls "/proc/$pid/task" | wc -l)
# Resident pages by mapping: the binary's own, the shared libraries', anonymous (heap, stacks).
read -r own libraries anonymous < <(awk -v binary="$TMP/modbridge" '
    /^[0-9a-f]+-[0-9a-f]+ / { name = $6 }
    /^Rss:/ { if (name == binary) own += $2; else if (name ~ /\.so/) libs += $2; else anon += $2 }
    END { print own + 0, libs + 0, anon + 0 }' "/proc/$pid/smaps")
pss=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")
stop_broker run
events=$(grep -c "event=" "$TMP/run.log" || true)

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }
size_met=$(awk -v b="$size_stripped" 'BEGIN { print (b <= 15000000) ? "yes" : "no" }')
rss_met=$(awk -v k="$rss" 'BEGIN { print (k * 1024 <= 10000000) ? "yes" : "no" }')
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)

{
    echo "<!-- footprint-bench:start -->"
    echo "## Footprint: the shipped binary's size and idle memory"
    echo
    echo "Measured $(date +%Y-%m-%d) on ${cpu:-unknown CPU}, $(nproc) cores, $(uname -srm), with \`make bench-footprint\`"
    echo "(\`scripts/footprint-bench.sh --binary .build-static/release/modbridge --write BENCHMARKS.md\`)."
    echo
    echo "The binary the \`.deb\` carries: release, \`--static-swift-stdlib\`, stripped; no Foundation in it."
    echo "Idle: \`modbridge run\` on examples/demo.json (two simulated ovens on a pty keeping a real 9600 baud"
    echo "line's times, the embedded broker, no client) after ${SECONDS_IDLE} s."
    echo
    echo "| row | figure | target | met |"
    echo "|---|---|---|---|"
    echo "| binary, stripped | $(mb "$size_stripped") MB ($size_stripped bytes; $(mb "$size_built") MB as built) | ≤ 15 MB | $size_met |"
    echo "| idle resident memory (VmRSS) | $(mib "$rss") MiB (peak $(mib "$hwm") MiB, Pss $(mib "$pss") MiB, $threads threads) | ≤ 10 MB | $rss_met |"
    echo "| … of it the binary's own pages | $(mib "$own") MiB | — | — |"
    echo "| … shared libraries (libc, libcrypto, libssl, libstdc++, libmodbus, libm) | $(mib "$libraries") MiB | — | — |"
    echo "| … anonymous (heap, stacks) | $(mib "$anonymous") MiB | — | — |"
    echo "<!-- footprint-bench:end -->"
} >"$TMP/section.md"
cat "$TMP/section.md"
log "$events log lines from the run"
if [[ -n $WRITE ]]; then write_section "<!-- footprint-bench:start -->" "<!-- footprint-bench:end -->" "$TMP/section.md"; fi
