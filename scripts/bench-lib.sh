# Shared by the broker benchmarks (scripts/broker-bench.sh, scripts/registry-bench.sh): the
# temporary folder, brokers in sessions of their own stopped on every exit path, and the
# key=value and statistics helpers of the report. Sourced after the script has defined `log`
# and `die` (each prefixes its own name), with BENCH_NAME set to that name.

SETSID=""
command -v setsid >/dev/null && SETSID=setsid

TMP=$(mktemp -d "${TMPDIR:-/tmp}/$BENCH_NAME.XXXXXX")
declare -A PID=() PORT=()
LOADPID=""
LINE=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $LOADPID ]]; then
        kill -TERM "$LOADPID" 2>/dev/null || true
        wait "$LOADPID" 2>/dev/null || true
    fi
    local name
    for name in "${!PID[@]}"; do stop_broker "$name"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_broker() {
    local name=$1 pid=${PID[$1]:-} status=0 i
    [[ -n $pid ]] || return 0
    unset "PID[$name]"
    local target=$pid
    [[ -n $SETSID ]] && target=-$pid # the process group: a wrapper's children too
    kill -TERM -- "$target" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "WARNING: $name (pid $pid) still running 5 s after SIGTERM; killing it"
    fi
    kill -KILL -- "$target" 2>/dev/null || true
    wait "$pid" 2>/dev/null || status=$?
    ((status == 0)) || log "WARNING: $name exited with status $status after SIGTERM"
}

# kv KEY: the value of KEY in LINE.
kv() {
    local tok
    for tok in $LINE; do
        if [[ $tok == "$1="* ]]; then
            printf '%s' "${tok#*=}"
            return 0
        fi
    done
    die "no $1= in result line: $LINE"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# spread VALUES...: (max - min) / median, in percent.
spread() {
    local med
    med=$(median "$@")
    printf '%s\n' "$@" | sort -g | awk -v m="$med" '{ v[NR] = $1 } END { printf "%.0f", (m > 0) ? (v[NR] - v[1]) / m * 100 : 0 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# met RATIO higher|lower: whether modbridge meets "at or above" / "no worse than" Mosquitto.
met() {
    [[ $1 == n/a ]] && { echo "n/a"; return; }
    awk -v r="$1" -v dir="$2" 'BEGIN { ok = (dir == "higher") ? (r >= 1) : (r <= 1); print ok ? "yes" : "**no**" }'
}
