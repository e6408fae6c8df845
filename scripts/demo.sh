#!/usr/bin/env bash
# `make demo`: modbridge run on examples/demo.json — two simulated temperature controllers on a
# pty created at start, polled every second, published as devices oven-1 and oven-2 through the
# embedded MQTT broker on 127.0.0.1:1883, and the web console on http://127.0.0.1:8080/ (other
# free ports if those are taken). The console has no default password: this script makes one for
# registry "demo" at each start, puts its hash in a copy of the config, and prints it.
set -euo pipefail
modbridge=${1:?usage: demo.sh path/to/modbridge}
repository=$(cd "$(dirname "$0")/.." && pwd)
port=1883
http_port=8080

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port_from() {
    local candidate=$1
    while port_taken "$candidate"; do candidate=$((candidate + 1)); done
    echo "$candidate"
}

port=$(free_port_from 1883)
[ "$port" = 1883 ] || echo "Port 1883 is taken (another broker?); the demo's broker uses $port instead."
http_port=$(free_port_from 8080)
[ "$http_port" = 8080 ] || echo "Port 8080 is taken; the demo's console uses $http_port instead."
folder=$(mktemp -d /tmp/modbridge-demo.XXXXXX)
trap 'rm -rf "$folder"' EXIT
# 18 random letters and digits behind "Demo-": at least 14 characters from 3 classes.
password="Demo-$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 18)7"
hash=$(printf '%s\n' "$password" | "$modbridge" passwd)
sed -e "s/\"port\": 1883/\"port\": $port/" -e "s/\"port\": 8080/\"port\": $http_port/" \
    -e "s#\"\\.\\./mappings\"#\"$repository/mappings\"#" \
    -e "s#{ \"id\": \"demo\", \"devices\"#{ \"id\": \"demo\", \"credentials\": { \"passwords\": [\"$hash\"] }, \"devices\"#" \
    "$repository/examples/demo.json" > "$folder/demo.json"
config="$folder/demo.json"

cat <<INFO
modbridge run $config

Two simulated controllers (units 1 and 2 on a new pty) become devices oven-1 and oven-2 of
registry "demo"; their process value climbs from 20 °C towards the 65 °C set point.
The broker follows the registry's access rules (docs/iot-core.md); on this loopback listener a
client without credentials is registry "demo" (listener option anonymousAs), so it reads its
devices' telemetry and sends them commands. In another terminal, watch everything they publish:
  mosquitto_sub -p $port -t '\$devices/#' -v
Set oven-1's set point to 80 °C (acknowledged on \$devices/oven-1/events/ack):
  mosquitto_pub -p $port -t '\$devices/oven-1/commands/set_point' -m '{"value": 80, "id": "1"}'
Stop it, or write several points at once:
  mosquitto_pub -p $port -t '\$devices/oven-1/commands' -m '{"id": "2", "running": "stopped"}'
Desired values, applied now and whenever the controller comes back online:
  mosquitto_pub -p $port -r -t '\$devices/oven-2/config' -m '{"set_point": 90}'
The web console (live values, bus health, set point writes), in a browser on this machine:
  http://127.0.0.1:$http_port/   user name: demo   password: $password
(made for this run; the config copy in $folder holds only its hash).
Below: the gateway's log (key=value) and, live, what the devices publish on \$devices/+/events
and \$devices/+/events/ack (mosquitto_sub). Ctrl-C stops both.

INFO
"$modbridge" run --config "$config" &
gateway=$!
subscriber=""
# Under set -e a failing command here would end the trap before the folder is removed: Ctrl-C
# reaches the whole process group, so the subscriber and the gateway may be gone already.
stop() {
    if [ -n "$subscriber" ]; then kill "$subscriber" 2>/dev/null || true; fi
    kill -INT "$gateway" 2>/dev/null || true
    wait "$gateway" 2>/dev/null || true
}
trap 'stop; rm -rf "$folder"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 200); do port_taken "$port" && break; kill -0 "$gateway" 2>/dev/null || exit 1; sleep 0.05; done
mosquitto_sub -p "$port" -t '$devices/+/events' -t '$devices/+/events/ack' -v &
subscriber=$!
wait "$gateway"
