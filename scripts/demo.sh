#!/usr/bin/env bash
# `make demo`: modbridge run on examples/demo.json — two simulated temperature controllers on a
# pty created at start, polled every second, published as devices oven-1 and oven-2 through the
# embedded MQTT broker on 127.0.0.1:1883 (another free port if 1883 is taken).
set -euo pipefail
modbridge=${1:?usage: demo.sh path/to/modbridge}
repository=$(cd "$(dirname "$0")/.." && pwd)
config="$repository/examples/demo.json"
port=1883

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

folder=""
if port_taken "$port"; then
    for candidate in $(seq 1884 1999); do
        if ! port_taken "$candidate"; then port=$candidate; break; fi
    done
    folder=$(mktemp -d /tmp/modbridge-demo.XXXXXX)
    sed "s/\"port\": 1883/\"port\": $port/; s#\"\\.\\./mappings\"#\"$repository/mappings\"#" "$config" > "$folder/demo.json"
    echo "Port 1883 is taken (another broker?); the demo's broker uses $port instead."
    config="$folder/demo.json"
fi

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
Below: the gateway's log (key=value) and, live, what the devices publish on \$devices/+/events
and \$devices/+/events/ack (mosquitto_sub). Ctrl-C stops both.

INFO
"$modbridge" run --config "$config" &
gateway=$!
subscriber=""
stop() {
    [ -n "$subscriber" ] && kill "$subscriber" 2>/dev/null
    kill -INT "$gateway" 2>/dev/null || true
    wait "$gateway" 2>/dev/null || true
}
trap 'stop; [ -n "$folder" ] && rm -rf "$folder"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 200); do port_taken "$port" && break; kill -0 "$gateway" 2>/dev/null || exit 1; sleep 0.05; done
mosquitto_sub -p "$port" -t '$devices/+/events' -t '$devices/+/events/ack' -v &
subscriber=$!
wait "$gateway"
