#!/bin/bash
# Builds a .deb of modbridge with dpkg-deb: the static-stdlib binary (no Swift on the target),
# the config as a conffile, the profiles, the systemd unit, and maintainer scripts that create
# the `modbridge` system user (in group dialout, for serial adapters) and its state folder.
# Usage: scripts/build-deb.sh --binary PATH --version V --out FILE.deb
set -euo pipefail
cd "$(dirname "$0")/.."
binary="" version="" out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        --version) version=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "build-deb.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done
[ -n "$binary" ] && [ -n "$version" ] && [ -n "$out" ] || { echo "usage: scripts/build-deb.sh --binary PATH --version V --out FILE.deb" >&2; exit 64; }

stage=$(mktemp -d /tmp/modbridge-deb-XXXXXX)
trap 'rm -rf "$stage"' EXIT
scripts/install.sh "$stage" "$binary" > /dev/null
mkdir -p "$stage/DEBIAN"

cat > "$stage/DEBIAN/control" <<CONTROL
Package: modbridge
Version: $version
Architecture: $(dpkg --print-architecture)
Maintainer: modbridge developers <modbridge@localhost>
Section: net
Priority: optional
Depends: libc6, libstdc++6, libgcc-s1, libmodbus5 (>= 3.1.6), libssl3, adduser
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: Modbus controllers as devices of a local IoT Core over MQTT
 modbridge polls RS-485 / Modbus RTU, ASCII, RTU-over-TCP and Modbus TCP temperature
 controllers and presents each as a device of an embedded MQTT 3.1.1 broker that behaves
 like a cloud IoT Core (registries, devices, passwords and certificates, access rules),
 or of an upstream broker through a store-and-forward queue on disk.
CONTROL

# dpkg keeps a changed config across upgrades and asks before replacing it.
echo /etc/modbridge/modbridge.json > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd modbridge > /dev/null; then
        adduser --system --group --home /var/lib/modbridge --no-create-home --gecos "modbridge gateway" modbridge
    fi
    adduser modbridge dialout > /dev/null
    chown modbridge:modbridge /var/lib/modbridge
    chmod 0750 /var/lib/modbridge
    chgrp modbridge /etc/modbridge/modbridge.json
    chmod 0640 /etc/modbridge/modbridge.json
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable modbridge.service > /dev/null
        # Started by hand once its config names the real lines: `systemctl start modbridge`.
    fi
fi
SCRIPT

cat > "$stage/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop modbridge.service || true
    systemctl disable modbridge.service > /dev/null || true
fi
SCRIPT

cat > "$stage/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    rm -rf /var/lib/modbridge
    if getent passwd modbridge > /dev/null; then deluser --system modbridge > /dev/null || true; fi
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
SCRIPT
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group --build "$stage" "$out" > /dev/null
echo "built $out ($(du -h "$out" | cut -f1); binary $(du -h "$stage/usr/bin/modbridge" | cut -f1) stripped)"
