#!/usr/bin/env bash
# `make demo`: a simulated temperature controller on a new pty, polled live by modbridge.
set -euo pipefail
modbridge=${1:?usage: demo.sh path/to/modbridge}
folder=$(mktemp -d /tmp/modbridge-demo.XXXXXX)
line="$folder/ttySIM0"

"$modbridge" simulate --unit 1 --link "$line" > "$folder/simulator.out" &
simulator=$!
cleanup() {
    kill "$simulator" 2>/dev/null || true
    wait "$simulator" 2>/dev/null || true
    rm -rf "$folder"
}
trap cleanup EXIT INT TERM

for _ in $(seq 100); do [ -e "$line" ] && break; sleep 0.05; done
[ -e "$line" ] || { echo "the simulator did not start" >&2; exit 1; }

cat <<INFO
A simulated temperature controller (unit 1) answers Modbus RTU on $line.
modbridge polls it every second through its Bus: input registers 0-2 are
  [0] process value in 0.1 °C (it climbs from 20 °C towards the 65 °C set point)
  [1] heater output in 0.1 %
  [2] status bits: 1 running, 2 heating, 4 high alarm
Press Ctrl-C to stop. After that, try for yourself (README: Command line), e.g.
  modbridge simulate --link /tmp/ttySIM0 &   then
  modbridge write /tmp/ttySIM0 --unit 1 --table holding --address 0 --value 800

INFO
# A pty has no RS-485 driver mode; on a real adapter leave --rs485 at its default (auto).
"$modbridge" read "$line" --rs485 off --unit 1 --table input --address 0 --count 3 --type int16 --repeat 1
