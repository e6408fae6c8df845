#!/bin/bash
# Installs modbridge in the FHS layout under a root (DESTDIR; empty: this machine):
#   /usr/bin/modbridge                      the binary (stripped)
#   /etc/modbridge/modbridge.json           the config (kept if one is there already)
#   /usr/share/modbridge/mappings, schemas  the device profiles and the JSON Schemas
#   /lib/systemd/system/modbridge.service   the unit
#   /usr/share/doc/modbridge                README and docs
#   /var/lib/modbridge                      the state folder ("storage")
# Usage: scripts/install.sh DESTDIR BINARY
set -euo pipefail
root=${1:?usage: scripts/install.sh DESTDIR BINARY}
binary=${2:?usage: scripts/install.sh DESTDIR BINARY}
cd "$(dirname "$0")/.."

install -D -m 0755 "$binary" "$root/usr/bin/modbridge"
strip --strip-unneeded "$root/usr/bin/modbridge"
if [ ! -e "$root/etc/modbridge/modbridge.json" ]; then
    install -D -m 0644 packaging/modbridge.json "$root/etc/modbridge/modbridge.json"
else
    echo "kept $root/etc/modbridge/modbridge.json (the shipped one: packaging/modbridge.json)"
fi
install -d "$root/usr/share/modbridge/mappings" "$root/usr/share/modbridge/schemas" "$root/usr/share/doc/modbridge/docs"
install -m 0644 mappings/*.json "$root/usr/share/modbridge/mappings/"
install -m 0644 schemas/*.json "$root/usr/share/modbridge/schemas/"
install -m 0644 README.md "$root/usr/share/doc/modbridge/"
install -m 0644 docs/*.md "$root/usr/share/doc/modbridge/docs/"
install -D -m 0644 packaging/modbridge.service "$root/lib/systemd/system/modbridge.service"
install -d -m 0750 "$root/var/lib/modbridge"
