# Shared by the broker benchmarks (scripts/broker-bench.sh, scripts/registry-bench.sh): the
# temporary folder, brokers in sessions of their own stopped on every exit path, the key=value
# and statistics helpers of the report, and writing its section into BENCHMARKS.md. Sourced after
# the script has defined `log` and `die` (each prefixes its own name), with BENCH_NAME set to that name.

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

# write_section START END SECTION_FILE: replaces START..END in WRITE with SECTION_FILE (appended
# at the end if WRITE has neither marker).
write_section() {
    local start=$1 end=$2 section=$3 nstart nend
    if [[ ! -e $WRITE ]]; then
        printf '# Benchmarks\n' >"$WRITE"
    fi
    nstart=$(grep -cxF "$start" "$WRITE" || true)
    nend=$(grep -cxF "$end" "$WRITE" || true)
    if ((nstart == 1 && nend == 1)) &&
        (($(grep -nxF "$start" "$WRITE" | cut -d: -f1) < $(grep -nxF "$end" "$WRITE" | cut -d: -f1))); then
        awk -v start="$start" -v end="$end" -v section="$section" '
            $0 == start { while ((getline line < section) > 0) print line; skip = 1; next }
            $0 == end { skip = 0; next }
            !skip { print }' "$WRITE" >"$TMP/out.md"
    elif ((nstart == 0 && nend == 0)); then
        { cat "$WRITE"; echo; cat "$section"; } >"$TMP/out.md"
    else
        die "$WRITE has $nstart '$start' and $nend '$end' lines; expected one of each, in that order (or none)"
    fi
    cat "$TMP/out.md" >"$WRITE"
    log "wrote $start … $end in $WRITE"
}
