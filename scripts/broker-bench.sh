#!/usr/bin/env bash
# MQTT broker benchmark (the broker part of `make bench`): the modbridge broker and Mosquitto,
# both on 127.0.0.1, driven in the same run by the same load generator (Benchmarks/c/mqtt_load.c).
# Prints a Markdown section with the ratios modbridge/Mosquitto; with --write FILE it replaces
# the section between <!-- broker-bench:start --> and <!-- broker-bench:end --> in FILE
# (appended at the end if the markers are missing). The retained row (wildcard SUBSCRIBEs over
# 50,000 retained messages) has a section of its own, <!-- broker-bench-retained:start/end -->,
# so `--only retained` rewrites just that one. Nothing is written if any run fails.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/broker-bench.sh [--load PATH] [--write FILE] [--only retained]

  --load PATH   the load generator binary (default .build/mqtt-load; make bench-broker builds it)
  --write FILE  replace the broker-bench section(s) of FILE (e.g. BENCHMARKS.md) with the results
  --only ROW    run only that row and write only its section: "retained" (same as BENCH_ONLY)

Environment:
  MODBRIDGE_BROKER_CMD  command that starts the broker under test, with PORT standing for the
                        port; it must exec the broker itself (no wrapper process), because the
                        memory row reads /proc/PID/status of the process started. Default:
                        .build/release/modbridge broker --host 127.0.0.1 --port PORT --quiet
  MOSQUITTO             Mosquitto binary (default mosquitto)
  BENCH_REPS            throughput runs per row and broker, median reported (default 5)
  BENCH_SECONDS         counted seconds per throughput run (default 0.6)
  BENCH_WARMUP          warm-up seconds before each throughput run (default 0.3)
  BENCH_WINDOW          messages outstanding at most, throughput rows (default 1000)
  BENCH_LAT_RATE        latency rows: messages per second (default 1000)
  BENCH_LAT_COUNT       latency rows: messages measured per broker and QoS (default 60000)
  BENCH_LAT_REPS        latency rows: paired runs they are split into (default 40)
  BENCH_IDLE_CLIENTS    memory rows: idle connected clients (default 10000)
  BENCH_ONLY            as --only
  BENCH_RETAINED        retained row: retained messages published first (default 50000)
  BENCH_RETAINED_SUBSCRIBES  retained row: SUBSCRIBEs timed per filter and broker (default 200)
  BENCH_RETAINED_FILTERS     retained row: comma-separated filters
                        (default plant/17/#,plant/+/dev/42: 100 and 500 of 50,000 matched)
EOF
}

LOAD=.build/mqtt-load
WRITE=""
ONLY=${BENCH_ONLY:-}
while (($#)); do
    case $1 in
        --load) LOAD=${2:?--load needs a path}; shift 2 ;;
        --write) WRITE=${2:?--write needs a file}; shift 2 ;;
        --only) ONLY=${2:?--only needs a row}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "broker-bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

case $ONLY in
    "" | all | retained) ;;
    *) echo "broker-bench: unknown row '$ONLY' for --only (known: retained)" >&2; exit 2 ;;
esac

DEFAULT_CMD=".build/release/modbridge broker --host 127.0.0.1 --port PORT --quiet"
MODBRIDGE_CMD=${MODBRIDGE_BROKER_CMD:-$DEFAULT_CMD}
MOSQUITTO=${MOSQUITTO:-mosquitto}
REPS=${BENCH_REPS:-5}
RUN_SECONDS=${BENCH_SECONDS:-0.6}
WARMUP=${BENCH_WARMUP:-0.3}
WINDOW=${BENCH_WINDOW:-1000}
LAT_RATE=${BENCH_LAT_RATE:-1000}
LAT_COUNT=${BENCH_LAT_COUNT:-60000}
LAT_REPS=${BENCH_LAT_REPS:-40}
LAT_WARMUP=200
IDLE_CLIENTS=${BENCH_IDLE_CLIENTS:-10000}
RET_COUNT=${BENCH_RETAINED:-50000}
RET_SUBSCRIBES=${BENCH_RETAINED_SUBSCRIBES:-200}
RET_FILTERS=${BENCH_RETAINED_FILTERS:-plant/17/#,plant/+/dev/42}
# Extra lines for Mosquitto's configuration (the retained row turns TCP_NODELAY on).
MOSQUITTO_EXTRA=""
SETTLE=2
BROKERS=(modbridge mosquitto)

log() { printf 'broker-bench: %s\n' "$*" >&2; }
die() {
    printf '\nbroker-bench: FAILED: %s\n' "$*" >&2
    exit 1
}

[[ -x $LOAD ]] || die "load generator $LOAD not found (make bench-broker builds it)"
command -v "$MOSQUITTO" >/dev/null || die "$MOSQUITTO not found (make setup-system installs it)"
read -r first_word _ <<<"$MODBRIDGE_CMD"
command -v "$first_word" >/dev/null ||
    die "broker under test '$first_word' not found (build it: swift build -c release --product modbridge)"

# Both brokers inherit this; 10,000 idle clients need more than the usual 1024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < IDLE_CLIENTS + 100)); then
    die "open-files limit $(ulimit -n) is below $((IDLE_CLIENTS + 100)); raise it (ulimit -Hn)"
fi

BENCH_NAME=broker-bench
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

# Inode of the socket listening on 127.0.0.1:PORT (or any address, IPv4 or IPv6), if any.
listen_inode() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10; exit }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

start_broker() {
    local name=$1 port cmd conf
    port=$("$LOAD" freeport) || die "no free port"
    if [[ $name == mosquitto || $name == control ]]; then
        conf="$TMP/mosquitto-$port.conf"
        printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n%s' \
            "$port" "$MOSQUITTO_EXTRA" >"$conf"
        cmd="$(printf '%q' "$MOSQUITTO") -c $(printf '%q' "$conf")"
    else
        cmd=${MODBRIDGE_CMD//PORT/$port}
    fi
    log "starting $name on 127.0.0.1:$port: $cmd"
    # In a session of its own (setsid execs without forking here: a background child of this
    # non-interactive shell is no process-group leader), so stop_broker can end the whole group.
    $SETSID bash -c "exec $cmd" </dev/null >"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    PORT[$name]=$port
    local deadline=$((SECONDS + 15))
    until "$LOAD" probe --host 127.0.0.1 --port "$port" --timeout 0.5 2>/dev/null; do
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            local status=0
            wait "${PID[$name]}" || status=$?
            [[ -z $SETSID ]] || kill -KILL -- "-${PID[$name]}" 2>/dev/null || true
            unset "PID[$name]"
            die "$name exited during start-up (status $status); its output:
$(tail -n 20 "$TMP/$name.log")"
        fi
        ((SECONDS < deadline)) || die "$name did not answer CONNECT on 127.0.0.1:$port within 15 s; its output:
$(tail -n 20 "$TMP/$name.log")"
        sleep 0.1
    done
    # The memory row reads this process's VmRSS: it must be the one holding the listening socket.
    local inode
    inode=$(listen_inode "$port")
    if [[ -z $inode ]] || ! ls -l "/proc/${PID[$name]}/fd" 2>/dev/null | grep -q "socket:\[$inode\]"; then
        die "process ${PID[$name]} started for $name does not hold the socket listening on port $port;" \
            "the command must exec the broker itself: $cmd"
    fi
}

# run_load BROKER COMMAND [OPTIONS...]: one load-generator run against BROKER; result in LINE.
run_load() {
    local name=$1 cmd=$2
    shift 2
    local status=0
    "$LOAD" "$cmd" --host 127.0.0.1 --port "${PORT[$name]}" "$@" >"$TMP/load.out" 2>"$TMP/load.err" &
    LOADPID=$!
    wait "$LOADPID" || status=$?
    LOADPID=""
    LINE=$(tail -n 1 "$TMP/load.out")
    if ((status != 0)); then
        local why="mqtt_load $cmd $* against $name failed (status $status): $(cat "$TMP/load.err")"
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            why+=$'\n'"$name is no longer running; its output:"$'\n'"$(tail -n 20 "$TMP/$name.log")"
        fi
        die "$why"
    fi
    [[ -n $LINE ]] || die "mqtt_load $cmd against $name printed no result"
}

# met_latency RATIO CONTROL: "yes" at or below 1; "within noise" when no further above 1 than the
# control pair (two Mosquittos) landed from each other in the same run; otherwise "**no**".
met_latency() {
    [[ $1 == n/a || $2 == n/a ]] && { echo "n/a"; return; }
    awk -v r="$1" -v c="$2" 'BEGIN {
        band = (c >= 1) ? c : (c > 0 ? 1 / c : 1)
        print (r <= 1) ? "yes" : (r <= band ? "within noise" : "**no**") }'
}

declare -A R=() # R[broker|row|key]
ROWS=() # throughput rows: label|publishers|subscribers|qos|payload
for shape in "1→1|1|1|0" "1→1|1|1|1" "10→1|10|1|0" "1→10|1|10|0"; do
    for payload in 64 1024; do ROWS+=("$shape|$payload"); done
done
size_label() { if (($1 == 1024)); then echo "1 KiB"; else echo "$1 B"; fi; }

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$(nproc)
mosquitto_version=$("$MOSQUITTO" -h 2>&1 | awk '/^mosquitto version/ { print $3; exit }' || true)

# ---------- the throughput, latency and memory rows (all but --only retained) ----------
# (not indented, to keep this block's history readable)
if [[ $ONLY != retained ]]; then
start_time=$SECONDS
start_broker modbridge
start_broker mosquitto

row=0
for spec in "${ROWS[@]}"; do
    IFS='|' read -r label pubs subs qos payload <<<"$spec"
    log "throughput $label QoS $qos $(size_label "$payload"): $REPS runs per broker"
    for name in "${BROKERS[@]}"; do
        R[$name|$row|runs]=""
        R[$name|$row|lost]=0
        R[$name|$row|dup]=0
        R[$name|$row|bad]=0
        R[$name|$row|unacked]=0
        R[$name|$row|cpu]=0
    done
    for ((rep = 0; rep < REPS; rep++)); do
        # Alternate which broker goes first, so drift in the machine's load hits both alike.
        order=("${BROKERS[@]}")
        (((row + rep) % 2)) && order=(mosquitto modbridge)
        for name in "${order[@]}"; do
            run_load "$name" throughput --publishers "$pubs" --subscribers "$subs" --qos "$qos" \
                --payload "$payload" --window "$WINDOW" --warmup "$WARMUP" --seconds "$RUN_SECONDS"
            R[$name|$row|runs]+=" $(kv msgs_per_s)"
            for key in lost dup bad unacked; do
                R[$name|$row|$key]=$((${R[$name|$row|$key]} + $(kv $key)))
            done
            R[$name|$row|cpu]=$(awk -v a="${R[$name|$row|cpu]}" -v b="$(kv load_cpu)" 'BEGIN { print (b > a) ? b : a }')
            if (($(kv counted) == 0)); then
                die "$name delivered no message while counting: $LINE"
            fi
        done
    done
    for name in "${BROKERS[@]}"; do
        # shellcheck disable=SC2086
        R[$name|$row|value]=$(median ${R[$name|$row|runs]})
        # shellcheck disable=SC2086
        R[$name|$row|spread]=$(spread ${R[$name|$row|runs]})
        if ((${R[$name|$row|lost]} + ${R[$name|$row|dup]} + ${R[$name|$row|bad]} + ${R[$name|$row|unacked]} > 0)); then
            log "WARNING: $name lost ${R[$name|$row|lost]}, duplicated ${R[$name|$row|dup]}," \
                "garbled ${R[$name|$row|bad]} messages and left ${R[$name|$row|unacked]} unacknowledged in this row"
        fi
    done
    log "  median msg/s: modbridge ${R[modbridge|$row|value]} (runs:${R[modbridge|$row|runs]})," \
        "mosquitto ${R[mosquitto|$row|value]} (runs:${R[mosquitto|$row|runs]})"
    row=$((row + 1))
done

LAT_RUN=$(((LAT_COUNT + LAT_REPS - 1) / LAT_REPS)) # measured messages per run and broker
# Latency runs are paired: one load-generator run measures two brokers at once, each at LAT_RATE,
# their messages half a period apart, so both meet the same moments of the machine's noise
# (separate runs put the same code 0.6-1.3x apart at p99). The control pair is Mosquitto against
# a second Mosquitto: how far apart two identical brokers land shows what the ratio can resolve.
# The three brokers of the latency rows start fresh, so that the control pair (a fresh Mosquitto)
# has the same history as the pair it controls: none, rather than the throughput rows' bursts.
stop_broker modbridge
stop_broker mosquitto
start_broker modbridge
start_broker mosquitto
start_broker control
PAIRS=("modbridge|mosquitto" "control|mosquitto")
for qos in 0 1; do
    log "latency 1→1 QoS $qos 64 B at $LAT_RATE msg/s: $LAT_REPS paired runs of $LAT_RUN messages per broker"
    for name in modbridge mosquitto control; do
        for key in lost dup bad unacked; do R[$name|lat$qos|$key]=0; done
        : >"$TMP/lat-$name-$qos" # Mosquitto's samples from the modbridge pair only
    done
    : >"$TMP/lat-controlref-$qos" # Mosquitto's samples from the control pair
    for ((rep = 0; rep < LAT_REPS; rep++)); do
        for pair in "${PAIRS[@]}"; do
            IFS='|' read -r first second <<<"$pair"
            # Swap which broker takes the first tick of each period from run to run.
            ((rep % 2)) && { tmp=$first; first=$second; second=$tmp; }
            run_load "$first" latency --port2 "${PORT[$second]}" --qos "$qos" --payload 64 --rate "$LAT_RATE" \
                --count "$LAT_RUN" --warmup-count "$LAT_WARMUP" --samples "$TMP/lat-1" --samples2 "$TMP/lat-2"
            for side in 1 2; do
                name=$first
                ((side == 2)) && name=$second
                into=$name
                [[ $name == mosquitto && $pair == control* ]] && into=controlref
                cat "$TMP/lat-$side" >>"$TMP/lat-$into-$qos"
            done
            # lost/dup/… are reported for the pair together; a non-zero count is charged to both.
            for key in lost dup bad unacked; do
                for name in $first $second; do
                    R[$name|lat$qos|$key]=$((${R[$name|lat$qos|$key]} + $(kv $key)))
                done
            done
        done
    done
    for name in modbridge mosquitto control controlref; do
        # Nearest-rank percentiles over the pooled runs, ns -> µs.
        read -r n p50 p99 < <(sort -n "$TMP/lat-$name-$qos" | awk '{ v[NR] = $1 }
            function rank(p,  r) { r = int(p / 100 * NR); if (r < p / 100 * NR) r++; return r < 1 ? 1 : r }
            END { if (NR == 0) print 0, 0, 0; else printf "%d %.1f %.1f\n", NR, v[rank(50)] / 1000, v[rank(99)] / 1000 }')
        ((n > 0)) || die "$name delivered no latency message at QoS $qos"
        R[$name|lat$qos|p50_us]=$p50
        R[$name|lat$qos|p99_us]=$p99
        R[$name|lat$qos|received]=$n
    done
    for name in modbridge mosquitto control; do
        if ((${R[$name|lat$qos|lost]} + ${R[$name|lat$qos|dup]} + ${R[$name|lat$qos|bad]} + ${R[$name|lat$qos|unacked]} > 0)); then
            log "WARNING: a pair with $name lost ${R[$name|lat$qos|lost]}, duplicated ${R[$name|lat$qos|dup]}," \
                "garbled ${R[$name|lat$qos|bad]} messages and left ${R[$name|lat$qos|unacked]} unacknowledged at QoS $qos"
        fi
    done
    log "  p50/p99 µs: modbridge ${R[modbridge|lat$qos|p50_us]}/${R[modbridge|lat$qos|p99_us]}," \
        "mosquitto ${R[mosquitto|lat$qos|p50_us]}/${R[mosquitto|lat$qos|p99_us]};" \
        "control: mosquitto ${R[control|lat$qos|p50_us]}/${R[control|lat$qos|p99_us]}" \
        "vs ${R[controlref|lat$qos|p50_us]}/${R[controlref|lat$qos|p99_us]}"
done
stop_broker control
stop_broker modbridge
stop_broker mosquitto

for name in "${BROKERS[@]}"; do
    log "memory: $name, fresh, with $IDLE_CLIENTS idle clients"
    start_broker "$name"
    run_load "$name" idle --clients "$IDLE_CLIENTS" --pid "${PID[$name]}" --settle "$SETTLE"
    for key in rss_before_kb rss_after_kb per_conn_bytes connect_s; do
        R[$name|idle|$key]=$(kv $key)
    done
    stop_broker "$name"
    log "  $name: VmRSS ${R[$name|idle|rss_before_kb]} kB -> ${R[$name|idle|rss_after_kb]} kB," \
        "${R[$name|idle|per_conn_bytes]} B per connection"
done
elapsed=$((SECONDS - start_time))

# ---------- report ----------

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
loss_cell() { # loss_cell KEYPREFIX: "lost/dup" for both brokers
    local out="" name extra
    for name in "${BROKERS[@]}"; do
        extra=""
        ((${R[$name|$1|bad]} > 0)) && extra+=" +${R[$name|$1|bad]} garbled"
        ((${R[$name|$1|unacked]} > 0)) && extra+=" +${R[$name|$1|unacked]} PUBLISH without PUBACK"
        out+="${out:+; }${R[$name|$1|lost]}/${R[$name|$1|dup]}$extra"
    done
    printf '%s' "$out"
}

{
    echo "<!-- broker-bench:start -->"
    echo "## MQTT broker: modbridge vs Mosquitto"
    echo
    echo "Command: \`make bench\` (the broker part alone: \`make bench-broker\`, which runs"
    echo "\`scripts/broker-bench.sh --load .build/mqtt-load --write BENCHMARKS.md\`; ${elapsed} s)."
    echo "Measured $(date +%Y-%m-%d) on ${cpu:-unknown CPU}, $cores cores, $(uname -srm); Mosquitto ${mosquitto_version:-unknown}."
    echo
    echo "Broker under test: \`$MODBRIDGE_CMD\`. Mosquitto: \`mosquitto -c FILE\`, FILE holding only"
    echo "\`listener PORT 127.0.0.1\`, \`allow_anonymous true\`, \`persistence false\`, \`log_dest none\`"
    echo "(everything else at its defaults). Both listen on 127.0.0.1 and are driven in the same run by the"
    echo "same load generator, \`Benchmarks/c/mqtt_load.c\` (MQTT 3.1.1, one thread, epoll, non-blocking"
    echo "sockets with TCP_NODELAY, clean sessions, one fresh topic per run), taking turns."
    echo
    echo "- **Throughput** (msg/s, higher is better): messages delivered per second, every delivery to"
    echo "  every subscriber counted (1→10: ten per message published). Closed loop: at most $WINDOW messages"
    echo "  published and not yet received by every subscriber (shared evenly by the publishers: $((WINDOW / 10))"
    echo "  each for 10→1; a publisher tops its share up once 1/8 of it is free), so neither broker is"
    echo "  pushed into dropping or unbounded queueing. Median of"
    echo "  $REPS runs of $RUN_SECONDS s (each after $WARMUP s of warm-up), the brokers alternating; \"spread\" is"
    echo "  (max − min) / median over those runs. QoS 1 rows: published with QoS 1 (PUBACKs read by the"
    echo "  publisher) to a QoS 1 subscription (the subscriber sends PUBACK); 10→1 and 1→10 use QoS 0."
    echo "  Each payload carries its publisher and sequence number: \"lost/dup\" counts, over all runs,"
    echo "  messages that never reached a subscriber (after a drain of up to 5 s) and messages received"
    echo "  twice or out of order."
    echo "- **Latency** (µs, lower is better): 1 publisher → 1 subscriber, 64 B, a fixed $LAT_RATE msg/s (open"
    echo "  loop, timerfd); latency = receive time − send time, both CLOCK_MONOTONIC in the one"
    echo "  load-generator process, the send time carried in the payload. Paired runs: each run measures"
    echo "  modbridge and Mosquitto together, each with its own publisher and subscriber at $LAT_RATE msg/s, their"
    echo "  messages half a period apart (one timer at twice the rate, alternate ticks; which broker takes"
    echo "  the first tick swaps from run to run), so both meet the same moments of the machine's noise."
    echo "  $LAT_REPS runs of $LAT_WARMUP warm-up then $LAT_RUN measured messages per broker; nearest-rank percentiles"
    echo "  over the $((LAT_RUN * LAT_REPS)) pooled. **Control**: the same paired runs, interleaved with those, of"
    echo "  Mosquitto against a second Mosquitto: how far apart two identical brokers land is what the"
    echo "  modbridge/Mosquitto ratio can resolve on this machine. All three brokers are started afresh"
    echo "  for the latency rows (after the throughput rows), so the three have the same history."
    echo "- **Memory** (lower is better): each broker started fresh; VmRSS from /proc/PID/status before,"
    echo "  and $SETTLE s after $IDLE_CLIENTS clients have completed CONNECT/CONNACK (clean session, keep-alive 0,"
    echo "  distinct client ids) and while they stay connected; per connection = (after − before) / $IDLE_CLIENTS."
    echo
    echo "| measurement | modbridge | Mosquitto | modbridge / Mosquitto | target met | spread modbridge; Mosquitto (latency: control) | lost/dup modbridge; Mosquitto |"
    echo "|---|---|---|---|---|---|---|"
    row=0
    for spec in "${ROWS[@]}"; do
        IFS='|' read -r label pubs subs qos payload <<<"$spec"
        m=${R[modbridge|$row|value]}
        q=${R[mosquitto|$row|value]}
        r=$(ratio "$m" "$q")
        printf '| throughput %s, QoS %s, %s (msg/s) | %.0f | %.0f | %s | %s | %s %%; %s %% | %s |\n' \
            "$label" "$qos" "$(size_label "$payload")" "$m" "$q" "$r" "$(met "$r" higher)" \
            "${R[modbridge|$row|spread]}" "${R[mosquitto|$row|spread]}" "$(loss_cell "$row")"
        row=$((row + 1))
    done
    for qos in 0 1; do
        for p in p50 p99; do
            m=${R[modbridge|lat$qos|${p}_us]}
            q=${R[mosquitto|lat$qos|${p}_us]}
            r=$(ratio "$m" "$q")
            c=$(ratio "${R[control|lat$qos|${p}_us]}" "${R[controlref|lat$qos|${p}_us]}")
            target="—"
            [[ $p == p99 ]] && target=$(met_latency "$r" "$c")
            printf '| latency %s, 1→1, QoS %s, 64 B, %s msg/s (µs) | %s | %s | %s | %s | control %s | %s |\n' \
                "$p" "$qos" "$LAT_RATE" "$m" "$q" "$r" "$target" "$c" "$(loss_cell "lat$qos")"
        done
    done
    m=${R[modbridge|idle|rss_before_kb]}
    q=${R[mosquitto|idle|rss_before_kb]}
    printf '| memory: VmRSS fresh, no client (MiB) | %s | %s | %s | — | — | — |\n' "$(mib "$m")" "$(mib "$q")" "$(ratio "$m" "$q")"
    m=${R[modbridge|idle|rss_after_kb]}
    q=${R[mosquitto|idle|rss_after_kb]}
    printf '| memory: VmRSS with %s idle clients (MiB) | %s | %s | %s | — | — | — |\n' "$IDLE_CLIENTS" "$(mib "$m")" "$(mib "$q")" "$(ratio "$m" "$q")"
    m=${R[modbridge|idle|per_conn_bytes]}
    q=${R[mosquitto|idle|per_conn_bytes]}
    r=$(ratio "$m" "$q")
    printf '| memory per idle connection (bytes) | %s | %s | %s | %s | — | — |\n' "$m" "$q" "$r" "$(met "$r" lower)"
    echo
    cpu_max=0
    cpu_row=""
    row=0
    for spec in "${ROWS[@]}"; do
        for name in "${BROKERS[@]}"; do
            if awk -v a="${R[$name|$row|cpu]}" -v b="$cpu_max" 'BEGIN { exit !(a > b) }'; then
                cpu_max=${R[$name|$row|cpu]}
                cpu_row="${spec%%|*} QoS $(cut -d'|' -f4 <<<"$spec") $(size_label "${spec##*|}") against $name"
            fi
        done
        row=$((row + 1))
    done
    cpu_pct=$(awk -v c="$cpu_max" 'BEGIN { printf "%.0f", c * 100 }')
    if ((cpu_pct >= 90)); then
        echo "**The load generator used up to $cpu_pct % of a core while counting ($cpu_row): it may have"
        echo "been the bottleneck there, so that row understates the faster broker.**"
    else
        echo "The load generator used at most $cpu_pct % of a core while counting ($cpu_row): it was"
        echo "not CPU-bound."
    fi
    echo "Targets: throughput ratio ≥ 1 on every row, p99 ratio ≤ 1, memory per idle connection ratio ≤ 1"
    echo "(p50 and total RSS are shown without a target). Ratios within the spread shown are noise; for"
    echo "latency, \"control\" is the ratio of the two Mosquittos, and a p99 ratio above 1 but no further"
    echo "from 1 than the control's is marked \"within noise\" (in either direction: a control of 0.90"
    echo "counts as 1.11)."
    echo "<!-- broker-bench:end -->"
} >"$TMP/section.md"
fi # the throughput, latency and memory rows

# ---------- the retained row ----------
# Wildcard SUBSCRIBEs over RET_COUNT retained messages, one at a time, on a fresh broker each.
# Mosquitto gets TCP_NODELAY here (modbridge and the load generator set it): with Nagle on, the
# retained messages after its SUBACK wait for the client's delayed ACK (~40 ms), which would
# measure TCP's timer instead of the broker.
ret_start=$SECONDS
MOSQUITTO_EXTRA=$'set_tcp_nodelay true\n'
IFS=',' read -r -a RET_FILTER_LIST <<<"$RET_FILTERS"
for name in "${BROKERS[@]}"; do
    log "retained: $name, fresh, $RET_COUNT retained messages, $RET_SUBSCRIBES SUBSCRIBEs per filter ($RET_FILTERS)"
    start_broker "$name"
    run_load "$name" retained --retained "$RET_COUNT" --subscribes "$RET_SUBSCRIBES" --filters "$RET_FILTERS" --timeout 120
    R[$name|ret|load_s]=$(kv load_s)
    for ((f = 1; f <= ${#RET_FILTER_LIST[@]}; f++)); do
        for key in matches p50_us p99_us suback_p50_us suback_p99_us; do
            R[$name|ret$f|$key]=$(kv "f${f}_$key")
        done
        log "  $name ${RET_FILTER_LIST[f - 1]} (${R[$name|ret$f|matches]} matches): p50 ${R[$name|ret$f|p50_us]} µs," \
            "p99 ${R[$name|ret$f|p99_us]} µs"
    done
    stop_broker "$name"
done
MOSQUITTO_EXTRA=""
ret_elapsed=$((SECONDS - ret_start))
ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
thousands() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
ret_count=$(thousands "$RET_COUNT")
{
    echo "<!-- broker-bench-retained:start -->"
    echo "### Wildcard SUBSCRIBE over $ret_count retained messages"
    echo
    echo "Command: \`scripts/broker-bench.sh --only retained --load .build/mqtt-load --write BENCHMARKS.md\`"
    echo "(also part of \`make bench-broker\`; ${ret_elapsed} s). Measured $(date +%Y-%m-%d) on ${cpu:-unknown CPU}, $cores cores,"
    echo "$(uname -srm); Mosquitto ${mosquitto_version:-unknown}. Broker under test: \`$MODBRIDGE_CMD\`."
    echo
    echo "\`mqtt_load retained\` on a freshly started broker: one client publishes $ret_count retained QoS 0"
    echo "messages (64 B) on \`plant/<0..$((RET_COUNT / 100 - 1))>/dev/<0..99>\`, then PINGREQ (its PINGRESP follows the last"
    echo "PUBLISH handled), and a second client checks that the last topic's message is held. That client then"
    echo "SUBSCRIBEs (QoS 0) to each filter in turn, $RET_SUBSCRIBES times each, one at a time, each followed by UNSUBSCRIBE"
    echo "and its UNSUBACK; a SUBSCRIBE's time runs from its write to the arrival of its SUBACK and of the last"
    echo "retained message it matched (every match is counted and checked against the filter). Median and"
    echo "p99 (nearest rank) per filter. Mosquitto's configuration adds \`set_tcp_nodelay true\` for this row:"
    echo "with its default (Nagle on) the messages after its SUBACK wait for the client's delayed ACK, about"
    echo "40 ms, which would time TCP rather than the broker. Target: modbridge's median at or below Mosquitto's."
    echo
    echo "| filter (retained messages matched) | modbridge p50 (ms) | Mosquitto p50 (ms) | modbridge / Mosquitto p50 | target met | modbridge p99 (ms) | Mosquitto p99 (ms) | modbridge / Mosquitto p99 | SUBACK alone p50 modbridge; Mosquitto (ms) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for ((f = 1; f <= ${#RET_FILTER_LIST[@]}; f++)); do
        m50=${R[modbridge|ret$f|p50_us]}
        q50=${R[mosquitto|ret$f|p50_us]}
        m99=${R[modbridge|ret$f|p99_us]}
        q99=${R[mosquitto|ret$f|p99_us]}
        r50=$(ratio "$m50" "$q50")
        [[ ${R[modbridge|ret$f|matches]} == "${R[mosquitto|ret$f|matches]}" ]] ||
            die "the brokers matched different counts for ${RET_FILTER_LIST[f - 1]}"
        printf '| `%s` (%s) | %s | %s | %s | %s | %s | %s | %s | %s; %s |\n' \
            "${RET_FILTER_LIST[f - 1]}" "${R[modbridge|ret$f|matches]}" "$(ms "$m50")" "$(ms "$q50")" "$r50" \
            "$(met "$r50" lower)" "$(ms "$m99")" "$(ms "$q99")" "$(ratio "$m99" "$q99")" \
            "$(ms "${R[modbridge|ret$f|suback_p50_us]}")" "$(ms "${R[mosquitto|ret$f|suback_p50_us]}")"
    done
    echo
    echo "Publishing the $ret_count retained messages took ${R[modbridge|ret|load_s]} s (modbridge) and ${R[mosquitto|ret|load_s]} s (Mosquitto)."
    echo "<!-- broker-bench-retained:end -->"
} >"$TMP/section-retained.md"

echo
[[ $ONLY == retained ]] || { cat "$TMP/section.md"; echo; }
cat "$TMP/section-retained.md"


if [[ -n $WRITE ]]; then
    [[ $ONLY == retained ]] || write_section '<!-- broker-bench:start -->' '<!-- broker-bench:end -->' "$TMP/section.md"
    write_section '<!-- broker-bench-retained:start -->' '<!-- broker-bench-retained:end -->' "$TMP/section-retained.md"
fi
