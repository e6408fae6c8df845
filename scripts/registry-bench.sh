#!/usr/bin/env bash
# Registry benchmark over TLS (the registry part of `make bench`): `modbridge run` with one
# registry of devices behind a TLS listener, next to Mosquitto configured alike (a TLS listener
# with the same certificate and key, a password file and an ACL for the same entities), both on
# 127.0.0.1, driven in the same run by the same load generator (Benchmarks/c/mqtt_tls_load.c).
# Prints a Markdown section with the ratios modbridge/Mosquitto; with --write FILE it replaces the
# section between <!-- registry-bench:start --> and <!-- registry-bench:end --> in FILE
# (appended at the end if the markers are missing). Nothing is written if any run fails.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/registry-bench.sh [--load PATH] [--write FILE]

  --load PATH   the load generator binary (default .build/mqtt-tls-load; make bench-registry builds it)
  --write FILE  replace the registry-bench section of FILE (e.g. BENCHMARKS.md) with the results

Environment:
  MODBRIDGE               modbridge binary (default .build/release/modbridge)
  MOSQUITTO               Mosquitto binary (default mosquitto)
  BENCH_BROKERS           brokers to run (default "modbridge mosquitto"; with only one, nothing
                          is written: for trying the script out)
  BENCH_DEVICES           devices in the registry (default 4)
  BENCH_REPS              runs per row and broker, alternating, median reported (default 5)
  BENCH_SECONDS           counted seconds per login and throughput run (default 1)
  BENCH_WARMUP            warm-up seconds before each (default 0.5)
  BENCH_PARALLEL          logins in flight at once, login row (default 4)
  BENCH_WINDOW            messages outstanding at most, throughput row (default 1000)
  BENCH_LAT_RATE          latency row: messages per second (default 1000)
  BENCH_LAT_COUNT         latency row: messages measured without a burst (default 5000)
  BENCH_BURST             latency row: wrong-password logins in the burst (default 1000)
  BENCH_BURST_PARALLEL    latency row: of those, in flight at once (default 50)
  BENCH_HASH_ITERATIONS   PBKDF2 iterations of the hashes both brokers check in the burst
                          (default 100000; modbridge accepts 100,000 or more)
EOF
}

LOAD=.build/mqtt-tls-load
WRITE=""
while (($#)); do
    case $1 in
        --load) LOAD=${2:?--load needs a path}; shift 2 ;;
        --write) WRITE=${2:?--write needs a file}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "registry-bench: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

MODBRIDGE=${MODBRIDGE:-.build/release/modbridge}
MOSQUITTO=${MOSQUITTO:-mosquitto}
read -r -a BROKERS <<<"${BENCH_BROKERS:-modbridge mosquitto}"
DEVICES=${BENCH_DEVICES:-4}
REPS=${BENCH_REPS:-5}
RUN_SECONDS=${BENCH_SECONDS:-1}
WARMUP=${BENCH_WARMUP:-0.5}
PARALLEL=${BENCH_PARALLEL:-4}
WINDOW=${BENCH_WINDOW:-1000}
LAT_RATE=${BENCH_LAT_RATE:-1000}
LAT_COUNT=${BENCH_LAT_COUNT:-5000}
LAT_WARMUP=500
BURST=${BENCH_BURST:-1000}
BURST_PARALLEL=${BENCH_BURST_PARALLEL:-50}
ITERATIONS=${BENCH_HASH_ITERATIONS:-100000}

log() { printf 'registry-bench: %s\n' "$*" >&2; }
die() {
    printf '\nregistry-bench: FAILED: %s\n' "$*" >&2
    exit 1
}

[[ -x $LOAD ]] || die "load generator $LOAD not found (make bench-registry builds it)"
for broker in "${BROKERS[@]}"; do
    case $broker in
        modbridge) [[ -x $MODBRIDGE ]] || die "$MODBRIDGE not found (build it: swift build -c release --product modbridge)" ;;
        mosquitto) command -v "$MOSQUITTO" >/dev/null || die "$MOSQUITTO not found (make setup-system installs it)" ;;
        *) die "unknown broker '$broker' in BENCH_BROKERS (known: modbridge mosquitto)" ;;
    esac
done
command -v openssl >/dev/null || die "openssl not found (make setup-system installs it)"
command -v python3 >/dev/null || die "python3 not found (it writes the password hashes)"
if [[ -n $WRITE && ${#BROKERS[@]} != 2 ]]; then
    die "--write needs both brokers (BENCH_BROKERS is '${BROKERS[*]}')"
fi

BENCH_NAME=registry-bench
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

# ---------- certificates, passwords, configurations ----------

# A CA and a server certificate for 127.0.0.1 signed by it, EC P-256, made in TMP.
make_certificates() {
    cat >"$TMP/openssl.cnf" <<'EOF'
[req]
distinguished_name = name
prompt = no
[name]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
subjectAltName = IP:127.0.0.1
extendedKeyUsage = serverAuth
EOF
    {
        openssl req -x509 -config "$TMP/openssl.cnf" -extensions ca -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -subj /CN=registry-bench-ca -days 2 &&
            openssl req -new -config "$TMP/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                -keyout "$TMP/server.key" -out "$TMP/server.csr" -subj /CN=127.0.0.1 &&
            openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
                -days 2 -extfile "$TMP/openssl.cnf" -extensions server -out "$TMP/server.pem"
    } >"$TMP/openssl.log" 2>&1 || die "openssl could not make the certificates: $(tail -n 5 "$TMP/openssl.log")"
}

# Passwords (14+ characters, 4 kinds), modbridge's hashes ($pbkdf2-sha256$i=N$salt$hash, 16-byte
# salt, 32-byte hash, base64 without padding), Mosquitto's password files (cheap: the
# mosquitto_passwd default of 101 sha512-pbkdf2 iterations; slow: N iterations, the $7$ format
# Mosquitto reads the iteration count from) and its ACL, all for the same entities.
make_credentials() {
    python3 - "$TMP" "$DEVICES" "$ITERATIONS" <<'EOF' || die "python3 could not write the credentials"
import base64, hashlib, json, os, secrets, sys

folder, devices, iterations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def password(tag):  # 14+ characters of 4 kinds
    return "Bench-" + tag + "-" + secrets.token_hex(6) + "-Aa1!"

def modbridge_hash(pw):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, iterations, 32)
    b64 = lambda b: base64.b64encode(b).decode().rstrip("=")
    return f"$pbkdf2-sha256$i={iterations}${b64(salt)}${b64(digest)}"

def mosquitto_line(user, pw, n):
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", pw.encode(), salt, n)
    return f"{user}:$7${n}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}\n"

# One password for every device (each hash has its own salt): the load generator takes one
# --password for the user names dev-1..dev-N.
device_password = password("device")
users = {"bench": password("registry")}
for i in range(1, devices + 1):
    users[f"dev-{i}"] = device_password
with open(f"{folder}/passwords", "w") as f:
    f.write(users["bench"] + "\n" + device_password + "\n")
config = {
    "broker": {"listeners": [{"host": "127.0.0.1", "port": 0,
                              "tls": {"certificate": f"{folder}/server.pem", "key": f"{folder}/server.key"}}]},
    "registries": [{"id": "bench", "credentials": {"passwords": [modbridge_hash(users["bench"])]},
                    "devices": [{"id": f"dev-{i}", "credentials": {"passwords": [modbridge_hash(users[f"dev-{i}"])]}}
                                for i in range(1, devices + 1)]}],
}
with open(f"{folder}/modbridge-template.json", "w") as f:
    json.dump(config, f, indent=2)
for name, n in (("passwd-cheap", 101), ("passwd-slow", iterations)):
    with open(f"{folder}/{name}", "w") as f:
        for user, pw in users.items():
            f.write(mosquitto_line(user, pw, n))
with open(f"{folder}/acl", "w") as f:
    for i in range(1, devices + 1):
        f.write(f"user dev-{i}\ntopic write $devices/dev-{i}/events\ntopic write $devices/dev-{i}/events/#\n\n")
    f.write("user bench\ntopic read $devices/+/events\ntopic read $devices/+/events/#\n")
EOF
}

make_certificates
make_credentials
{
    read -r REGISTRY_PASSWORD
    read -r DEVICE_PASSWORD
} <"$TMP/passwords"

# ---------- brokers ----------

# Mosquitto's configuration; $1 the port, $2 the password file. The extra lines and why:
# set_tcp_nodelay (modbridge and the load generator set TCP_NODELAY; without it Mosquitto's
# CONNACK waits for a delayed ACK, ~40 ms, which would time TCP rather than the broker);
# max_queued_messages 0 (Mosquitto 2.0.11 dropped QoS 1 messages for the subscriber, "Outgoing
# messages are being dropped", with 500 outstanding over TLS, below its default limit of 1000;
# the load generator's window bounds the queue anyway); user (when run as root Mosquitto would
# switch to the mosquitto user, who cannot read the key in the temp folder).
mosquitto_conf() {
    printf '%s\n' "listener $1 127.0.0.1" "certfile $TMP/server.pem" "keyfile $TMP/server.key" \
        "allow_anonymous false" "password_file $2" "acl_file $TMP/acl" "persistence false" "log_dest none" \
        "set_tcp_nodelay true" "max_queued_messages 0" "user $(id -un)"
}

# start_broker NAME HASHES: HASHES is cheap or slow (only Mosquitto's file differs; modbridge's
# hashes have ITERATIONS either way).
start_broker() {
    local name=$1 hashes=$2 port cmd conf
    port=$("$LOAD" freeport) || die "no free port"
    if [[ $name == mosquitto ]]; then
        conf="$TMP/mosquitto-$port.conf"
        local passwd=$TMP/passwd-cheap
        [[ $hashes == slow ]] && passwd=$TMP/passwd-slow
        mosquitto_conf "$port" "$passwd" >"$conf"
        cmd="$(printf '%q' "$MOSQUITTO") -c $(printf '%q' "$conf")"
    else
        conf="$TMP/modbridge-$port.json"
        python3 -c 'import json, sys
config = json.load(open(sys.argv[1]))
config["broker"]["listeners"][0]["port"] = int(sys.argv[2])
json.dump(config, open(sys.argv[3], "w"), indent=2)' "$TMP/modbridge-template.json" "$port" "$conf"
        # --quiet: no line per connection, as Mosquitto runs with log_dest none (refusals still logged).
        cmd="$(printf '%q' "$MODBRIDGE") run --quiet --config $(printf '%q' "$conf")"
    fi
    log "starting $name on 127.0.0.1:$port ($hashes hashes): $cmd"
    # In a session of its own, so stop_broker can end the whole group.
    $SETSID bash -c "exec $cmd" </dev/null >"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
    PORT[$name]=$port
    local deadline=$((SECONDS + 20))
    until "$LOAD" probe --port "$port" --cafile "$TMP/ca.pem" --username dev-1 --password "$DEVICE_PASSWORD" \
        --timeout 2 2>"$TMP/probe.err"; do
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            local status=0
            wait "${PID[$name]}" || status=$?
            [[ -z $SETSID ]] || kill -KILL -- "-${PID[$name]}" 2>/dev/null || true
            unset "PID[$name]"
            die "$name exited during start-up (status $status); its output:
$(tail -n 20 "$TMP/$name.log")"
        fi
        ((SECONDS < deadline)) || die "$name did not accept dev-1's TLS login on 127.0.0.1:$port within 20 s
($(cat "$TMP/probe.err")); its output:
$(tail -n 20 "$TMP/$name.log")"
        sleep 0.2
    done
    # One right login per entity first: modbridge checks a password's hash once and keeps the
    # result, so the rows after this measure no first-time check (Mosquitto keeps nothing).
    local entity
    for entity in bench $(seq -f 'dev-%g' 2 "$DEVICES"); do
        local pw=$DEVICE_PASSWORD
        [[ $entity == bench ]] && pw=$REGISTRY_PASSWORD
        "$LOAD" probe --port "$port" --cafile "$TMP/ca.pem" --username "$entity" --password "$pw" --timeout 30 \
            2>"$TMP/probe.err" || die "$name refused $entity's login: $(cat "$TMP/probe.err")"
    done
}

# run_load BROKER COMMAND [OPTIONS...]: one load-generator run against BROKER; result in LINE.
run_load() {
    local name=$1 cmd=$2
    shift 2
    local status=0
    "$LOAD" "$cmd" --port "${PORT[$name]}" --cafile "$TMP/ca.pem" "$@" >"$TMP/load.out" 2>"$TMP/load.err" &
    LOADPID=$!
    wait "$LOADPID" || status=$?
    LOADPID=""
    LINE=$(tail -n 1 "$TMP/load.out")
    if ((status != 0)); then
        local why="mqtt_tls_load $cmd against $name failed (status $status): $(cat "$TMP/load.err")"
        if ! kill -0 "${PID[$name]}" 2>/dev/null; then
            why+=$'\n'"$name is no longer running; its output:"$'\n'"$(tail -n 20 "$TMP/$name.log")"
        fi
        die "$why"
    fi
    [[ -n $LINE ]] || die "mqtt_tls_load $cmd against $name printed no result"
}

# CPU time (user + system) the process PID has used, in clock ticks (/proc/PID/stat fields 14, 15).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS_PER_SECOND=$(getconf CLK_TCK)

declare -A R=()
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cores=$(nproc)
mosquitto_version=$("$MOSQUITTO" -h 2>&1 | awk '/^mosquitto version/ { print $3; exit }' || true)
openssl_version=$(openssl version | awk '{ print $2 }')
start_time=$SECONDS
LOGIN=(--username 'dev-%d' --users "$DEVICES" --password "$DEVICE_PASSWORD")
PUBSUB=(--username dev-1 --password "$DEVICE_PASSWORD" --sub-username bench --sub-password "$REGISTRY_PASSWORD"
    --topic '$devices/dev-1/events' --filter '$devices/+/events' --qos 1 --payload 64)

# ---------- logins per second and throughput: cheap or cached password checks ----------
for name in "${BROKERS[@]}"; do start_broker "$name" cheap; done
log "logins: $REPS runs of $RUN_SECONDS s per broker, $PARALLEL in parallel over $DEVICES devices"
for name in "${BROKERS[@]}"; do R[$name|login|runs]=""; done
for ((rep = 0; rep < REPS; rep++)); do
    order=("${BROKERS[@]}")
    ((rep % 2)) && order=($(printf '%s\n' "${BROKERS[@]}" | tac))
    for name in "${order[@]}"; do
        before=$(cpu_ticks "${PID[$name]}")
        run_load "$name" handshakes "${LOGIN[@]}" --parallel "$PARALLEL" --warmup "$WARMUP" --seconds "$RUN_SECONDS"
        after=$(cpu_ticks "${PID[$name]}")
        R[$name|login|runs]+=" $(kv logins_per_s)"
        # The broker's own CPU per login, warm-up included (at the rate counted): what a login costs
        # the broker, whatever share of the 2 cores the load generator leaves it.
        R[$name|cpu|runs]+=" $(awk -v t=$((after - before)) -v hz="$TICKS_PER_SECOND" -v rate="$(kv logins_per_s)" \
            -v s="$(awk -v a="$WARMUP" -v b="$RUN_SECONDS" 'BEGIN { print a + b }')" 'BEGIN { printf "%.0f", (rate > 0) ? t / hz * 1e6 / (rate * s) : 0 }')"
        R[$name|login|p50]+=" $(kv login_p50_ms)"
        R[$name|tls]="$(kv tls) $(kv cipher)"
        log "  $name: $(kv logins_per_s) logins/s, p50 $(kv login_p50_ms) ms, broker CPU $(awk -v t=$((after - before)) -v hz="$TICKS_PER_SECOND" 'BEGIN { printf "%.2f", t / hz }') s, load generator CPU $(kv load_cpu)"
    done
done
log "throughput 1→1 QoS 1 64 B over TLS: $REPS runs of $RUN_SECONDS s per broker, window $WINDOW"
for name in "${BROKERS[@]}"; do R[$name|tp|lost]=0; R[$name|tp|dup]=0; R[$name|tp|runs]=""; done
for ((rep = 0; rep < REPS; rep++)); do
    order=("${BROKERS[@]}")
    ((rep % 2)) && order=($(printf '%s\n' "${BROKERS[@]}" | tac))
    for name in "${order[@]}"; do
        run_load "$name" throughput "${PUBSUB[@]}" --window "$WINDOW" --warmup "$WARMUP" --seconds "$RUN_SECONDS"
        R[$name|tp|runs]+=" $(kv msgs_per_s)"
        R[$name|tp|lost]=$((R[$name|tp|lost] + $(kv lost) + $(kv bad) + $(kv unacked)))
        R[$name|tp|dup]=$((R[$name|tp|dup] + $(kv dup)))
        log "  $name: $(kv msgs_per_s) msg/s, lost $(kv lost), dup $(kv dup), load generator CPU $(kv load_cpu)"
    done
done
for name in "${BROKERS[@]}"; do
    for row in login tp cpu; do
        # shellcheck disable=SC2086 # word splitting wanted: the runs
        R[$name|$row|value]=$(median ${R[$name|$row|runs]})
        # shellcheck disable=SC2086
        R[$name|$row|spread]=$(spread ${R[$name|$row|runs]})
    done
    stop_broker "$name"
done

# ---------- latency during a burst of wrong-password logins: the same hash cost on both ----------
# One broker at a time (the other stopped), each started fresh: the burst loads the machine.
for name in "${BROKERS[@]}"; do
    start_broker "$name" slow
    log "latency: $name, $LAT_RATE msg/s, $LAT_COUNT measured, then $BURST wrong-password logins ($BURST_PARALLEL in flight)"
    run_load "$name" latency "${PUBSUB[@]}" --rate "$LAT_RATE" --warmup-count "$LAT_WARMUP" --count "$LAT_COUNT" \
        --burst "$BURST" --burst-username 'dev-%d' --burst-users "$DEVICES" --burst-parallel "$BURST_PARALLEL"
    for key in base_p50_us base_p99_us base_received burst_s burst_received burst_p50_us burst_p99_us burst_max_us \
        burst_refused burst_closed lost dup; do
        R[$name|lat|$key]=$(kv $key)
    done
    stop_broker "$name"
    log "  $name: p99 ${R[$name|lat|base_p99_us]} µs without, ${R[$name|lat|burst_p99_us]} µs during the burst" \
        "(${R[$name|lat|burst_s]} s, ${R[$name|lat|burst_refused]} refused by CONNACK, ${R[$name|lat|burst_closed]} closed without)"
done
elapsed=$((SECONDS - start_time))

# ---------- report ----------
if ((${#BROKERS[@]} != 2)); then
    for name in "${BROKERS[@]}"; do
        log "$name: logins/s ${R[$name|login|value]} (spread ${R[$name|login|spread]} %, ${R[$name|tls]});" \
            "QoS 1 msg/s ${R[$name|tp|value]} (spread ${R[$name|tp|spread]} %, lost ${R[$name|tp|lost]}, dup ${R[$name|tp|dup]});" \
            "p99 ${R[$name|lat|base_p99_us]} µs, during the burst ${R[$name|lat|burst_p99_us]} µs"
    done
    log "one broker only (BENCH_BROKERS): no report"
    exit 0
fi
thousands() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
{
    echo "<!-- registry-bench:start -->"
    echo "## Registry over TLS: modbridge vs Mosquitto"
    echo
    echo "Command: \`make bench\` (this part alone: \`make bench-registry\`, which runs"
    echo "\`scripts/registry-bench.sh --load .build/mqtt-tls-load --write BENCHMARKS.md\`; ${elapsed} s)."
    echo "Measured $(date +%Y-%m-%d) on ${cpu:-unknown CPU}, $cores cores, $(uname -srm); Mosquitto ${mosquitto_version:-unknown},"
    echo "OpenSSL $openssl_version. Negotiated: ${R[modbridge|tls]} (modbridge), ${R[mosquitto|tls]} (Mosquitto)."
    settings=$(env | grep -E '^(BENCH_[A-Z_]+|MODBRIDGE|MOSQUITTO)=' | sort | tr '\n' ' ' || true)
    [[ -z $settings ]] || echo "Environment of this run: \`${settings% }\`."
    echo
    echo "modbridge: \`modbridge run --config FILE\`, FILE holding a TLS listener on 127.0.0.1 and one registry,"
    echo "\`bench\`, with $DEVICES devices \`dev-1\`…\`dev-$DEVICES\`, each entity with one password hash"
    echo "(\`\$pbkdf2-sha256\$i=$(thousands "$ITERATIONS")\$…\`). Mosquitto: \`mosquitto -c FILE\`, FILE holding a TLS listener on 127.0.0.1"
    echo "with the same certificate and key (EC P-256, signed by a CA made for the run), \`allow_anonymous false\`, a"
    echo "\`password_file\` and an \`acl_file\` for the same entities (each device writes \`\$devices/<id>/events\` and"
    echo "below, \`bench\` reads \`\$devices/+/events\` and below), \`persistence false\`, \`log_dest none\`, and"
    echo "\`set_tcp_nodelay true\` (modbridge sets TCP_NODELAY; without it Mosquitto's CONNACK waits for a delayed"
    echo "ACK), \`max_queued_messages 0\` (2.0.11 dropped messages for the subscriber over TLS with 500 of them"
    echo "outstanding, below its default limit of 1000; the window below bounds the queue anyway). The load"
    echo "generator, \`Benchmarks/c/mqtt_tls_load.c\` (MQTT 3.1.1, one thread, epoll, OpenSSL, full handshakes"
    echo "without session resumption, the server certificate verified against the CA), drives both."
    echo
    echo "- **TLS logins per second** (higher is better): $PARALLEL connections in parallel, each in a loop of TCP connect,"
    echo "  TLS handshake, CONNECT with user name \`dev-1\`…\`dev-$DEVICES\` in turn and the right password, CONNACK,"
    echo "  DISCONNECT. What is compared: the TLS handshake and the login path, not the password hash:"
    echo "  modbridge keeps a verified password per device (its $(thousands "$ITERATIONS")-iteration hash is checked once, in"
    echo "  the warm-up), and Mosquitto's password file here has the \`mosquitto_passwd\` default, 101 iterations of"
    echo "  sha512-pbkdf2 (tens of microseconds). Median of $REPS runs of $RUN_SECONDS s (after $WARMUP s of warm-up each),"
    echo "  the brokers alternating. Beside it, what a login costs each broker in CPU (its user + system time"
    echo "  over the run, from /proc/PID/stat, divided by the logins at the rate counted): the load generator"
    echo "  takes about one of the 2 cores, so the rate also depends on how the two processes share them."
    echo "- **Throughput** (msg/s, higher is better): 1 publisher (\`dev-1\`, to \`\$devices/dev-1/events\`) → 1"
    echo "  subscriber (\`bench\`, filter \`\$devices/+/events\`), QoS 1 both ways, 64 B, over TLS; closed loop with at"
    echo "  most $WINDOW messages published and not yet received, as the plain broker rows. Median of $REPS runs of $RUN_SECONDS s."
    echo "- **Latency during a login burst** (µs, lower is better): the same publisher and subscriber at a fixed"
    echo "  $LAT_RATE msg/s, QoS 1, 64 B (latency = receive − send time in the load generator). First $LAT_COUNT messages"
    echo "  with nothing else running (the baseline), then a child process of the load generator makes $(thousands "$BURST")"
    echo "  logins with a wrong password each (a different one every time, so no cache helps; user names"
    echo "  \`dev-1\`…\`dev-$DEVICES\`), $BURST_PARALLEL in flight at once, until all are refused; the p99 is over the messages"
    echo "  sent while they ran. The hash cost is the same on both: modbridge's hashes are PBKDF2-SHA256 with"
    echo "  $(thousands "$ITERATIONS") iterations (checked on a thread of its own at idle priority), Mosquitto's password file"
    echo "  for this row is sha512-pbkdf2 with $(thousands "$ITERATIONS") iterations (the \`\$7\$\` lines \`mosquitto_passwd\` writes,"
    echo "  made by the script because 2.0.11's \`mosquitto_passwd\` has no \`-I\`; checked on its one thread). Each"
    echo "  broker is started fresh for this row and runs alone."
    echo
    echo "| measurement | modbridge | Mosquitto | modbridge / Mosquitto | target met | spread modbridge; Mosquitto | lost/dup modbridge; Mosquitto |"
    echo "|---|---|---|---|---|---|---|"
    m=${R[modbridge|login|value]}
    q=${R[mosquitto|login|value]}
    r=$(ratio "$m" "$q")
    printf '| TLS logins per second, %s in parallel | %.0f | %.0f | %s | %s | %s %%; %s %% | — |\n' "$PARALLEL" "$m" "$q" "$r" \
        "$(met "$r" higher)" "${R[modbridge|login|spread]}" "${R[mosquitto|login|spread]}"
    m=${R[modbridge|cpu|value]}
    q=${R[mosquitto|cpu|value]}
    printf '| broker CPU per TLS login (µs, user + system, from /proc) | %.0f | %.0f | %s | — | %s %%; %s %% | — |\n' "$m" "$q" \
        "$(ratio "$m" "$q")" "${R[modbridge|cpu|spread]}" "${R[mosquitto|cpu|spread]}"
    m=${R[modbridge|tp|value]}
    q=${R[mosquitto|tp|value]}
    r=$(ratio "$m" "$q")
    printf '| throughput 1→1, QoS 1, 64 B, TLS (msg/s) | %.0f | %.0f | %s | %s | %s %%; %s %% | %s/%s; %s/%s |\n' "$m" "$q" "$r" \
        "$(met "$r" higher)" "${R[modbridge|tp|spread]}" "${R[mosquitto|tp|spread]}" \
        "${R[modbridge|tp|lost]}" "${R[modbridge|tp|dup]}" "${R[mosquitto|tp|lost]}" "${R[mosquitto|tp|dup]}"
    m=${R[modbridge|lat|base_p99_us]}
    q=${R[mosquitto|lat|base_p99_us]}
    printf '| latency p99 without a burst, %s msg/s (µs) | %s | %s | %s | — | — | %s/%s; %s/%s |\n' "$LAT_RATE" "$m" "$q" \
        "$(ratio "$m" "$q")" "${R[modbridge|lat|lost]}" "${R[modbridge|lat|dup]}" "${R[mosquitto|lat|lost]}" "${R[mosquitto|lat|dup]}"
    m=${R[modbridge|lat|burst_p99_us]}
    q=${R[mosquitto|lat|burst_p99_us]}
    r=$(ratio "$m" "$q")
    printf '| latency p99 during %s wrong-password logins (µs) | %s | %s | %s | %s | — | (same run as above) |\n' \
        "$(thousands "$BURST")" "$m" "$q" "$r" "$(met "$r" lower)"
    printf '| the burst: seconds; messages measured during it; refused by CONNACK / closed without | %s s; %s; %s / %s | %s s; %s; %s / %s | — | — | — | — |\n' \
        "${R[modbridge|lat|burst_s]}" "${R[modbridge|lat|burst_received]}" "${R[modbridge|lat|burst_refused]}" "${R[modbridge|lat|burst_closed]}" \
        "${R[mosquitto|lat|burst_s]}" "${R[mosquitto|lat|burst_received]}" "${R[mosquitto|lat|burst_refused]}" "${R[mosquitto|lat|burst_closed]}"
    echo
    echo "Targets (issue 15): each ratio at or better than Mosquitto's: logins per second and throughput ≥ 1, p99"
    echo "during the burst ≤ 1. The baseline p99 and the burst's length are shown without a target."
    echo "<!-- registry-bench:end -->"
} >"$TMP/section.md"

echo
cat "$TMP/section.md"

if [[ -n $WRITE ]]; then
    write_section '<!-- registry-bench:start -->' '<!-- registry-bench:end -->' "$TMP/section.md"
fi
