# modbridge — set-up, build, test, demo, benchmarks. Every target installs what it needs first.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

SWIFT ?= swift
PYTHON ?= python3
# Debian packages: C libraries (libmodbus, OpenSSL), pkg-config for SwiftPM, socat for the
# RTU interop pty pair, a C compiler for the benchmark baseline, Mosquitto as an MQTT peer,
# the openssl CLI that makes the TLS tests' certificates, headless Chromium and its driver for
# the console's browser test, wrk for the /metrics bench, valgrind for scripts/idle-code-order.sh.
APT_PACKAGES := libmodbus-dev libssl-dev pkg-config socat gcc mosquitto mosquitto-clients openssl chromium chromium-driver wrk valgrind
# Python test peers, pinned.
PIP_PACKAGES := pymodbus==3.8.6 pyserial==3.5 paho-mqtt==2.1.0 jsonschema==4.26.0 selenium==4.27.1 prometheus_client==0.21.1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
C_LOOP := .build/libmodbus-loop
MQTT_LOAD := .build/mqtt-load
MQTT_TLS_LOAD := .build/mqtt-tls-load
# The package: a release binary with the Swift runtime linked in (nothing of Swift on the target),
# built in its own scratch folder so that it does not rebuild the benchmarks' release build.
# The version is the binary's own (modbridge --version), read from its one place in the sources.
VERSION ?= $(shell sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/GatewayCore/CommandLine/ModbridgeVersion.swift)
STATIC_BIN := .build-static/release/modbridge
DEB_DIR := .build/deb
DESTDIR ?=

.PHONY: all setup setup-system setup-python build test demo static install deb bench bench-gateway bench-broker bench-registry bench-upstream bench-cycle bench-footprint clean print-version

all: build

setup: setup-system setup-python

setup-system:
	@missing=""; \
	for package in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

setup-python:
	@if ! $(PYTHON) -c 'import importlib.metadata as m, sys; sys.exit(0 if m.version("pymodbus") == "3.8.6" and m.version("pyserial") == "3.5" and m.version("paho-mqtt") == "2.1.0" and m.version("jsonschema") == "4.26.0" and m.version("selenium") == "4.27.1" and m.version("prometheus_client") == "0.21.1" else 1)' 2>/dev/null; then \
		echo "installing: $(PIP_PACKAGES)"; \
		$(PYTHON) -m pip install -q $(PIP_PACKAGES) 2>/dev/null \
			|| $(PYTHON) -m pip install -q --break-system-packages $(PIP_PACKAGES); \
	fi

build: setup-system
	$(SWIFT) build

# One test at a time: suites that time real lines (a pty at a baud rate, 500 ms response
# timeouts, t3.5 silences) would otherwise share the 2 cores with suites that start brokers,
# gateways, TLS clients and 1,000-login bursts, and fail for want of CPU rather than for a
# defect (seen in parallel runs: a write timing out, stray bytes read in two chunks). About
# 2.5 minutes of tests instead of 1.5.
test: setup deb
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-xctest --no-parallel

# The binary that goes onto a box: release, the Swift runtime linked in. Each function in a
# section of its own, and the ones `modbridge run` executes while idle laid out together
# (scripts/idle-code-order.txt, made by scripts/idle-code-order.sh): idle running then keeps a
# few dense pages of code mapped instead of one in each of ~80 fault-around windows (issue 18).
# The binary is removed first: a changed order file does not change the link command. A build
# folder from before -function-sections is removed once (the stamp): the compiler keeps an object
# whose code is unchanged, and an option of code generation alone does not change the code.
static: setup-system
	@[ -e .build-static/function-sections.stamp ] || rm -rf .build-static
	rm -f $(STATIC_BIN)
	$(SWIFT) build -c release --static-swift-stdlib --product modbridge --scratch-path .build-static \
		-Xswiftc -Xfrontend -Xswiftc -function-sections \
		-Xlinker --section-ordering-file=$(CURDIR)/scripts/idle-code-order.txt
	touch .build-static/function-sections.stamp

# FHS install under DESTDIR (empty: this machine): /usr/bin/modbridge, /etc/modbridge/modbridge.json
# (kept if present), /usr/share/modbridge/{mappings,schemas}, the systemd unit, /var/lib/modbridge.
install: static
	scripts/install.sh "$(DESTDIR)" $(STATIC_BIN)

# A .deb (dpkg-deb) of the same: conffile, unit, maintainer scripts creating the modbridge user.
# make test builds it and its tests unpack it and run its binary with no Swift on PATH.
deb: static
	rm -rf $(DEB_DIR)
	scripts/build-deb.sh --binary $(STATIC_BIN) --version $(VERSION) --out $(DEB_DIR)/modbridge_$(VERSION)_$$(dpkg --print-architecture).deb

demo: setup-system
	$(SWIFT) build -c release --product modbridge
	scripts/demo.sh .build/release/modbridge

$(C_LOOP): Benchmarks/c/libmodbus_loop.c | setup-system
	mkdir -p .build
	cc -O2 -Wall -o $@ $< $$(pkg-config --cflags --libs libmodbus)

bench: setup-system $(C_LOOP)
	$(SWIFT) build -c release --product modbridge-bench
	.build/release/modbridge-bench --c-loop $(C_LOOP) --write BENCHMARKS.md
	$(MAKE) bench-gateway
	$(MAKE) bench-broker
	$(MAKE) bench-registry
	$(MAKE) bench-upstream
	$(MAKE) bench-cycle
	$(MAKE) bench-footprint

# Gateway bench: requests per cycle of each shipped profile, register change → subscriber
# latency, CPU and memory of `modbridge run` polling 100 simulated Modbus TCP devices.
bench-gateway: setup-system
	$(SWIFT) build -c release --product modbridge
	$(SWIFT) build -c release --product modbridge-gateway-bench
	.build/release/modbridge-gateway-bench --modbridge .build/release/modbridge --write BENCHMARKS.md

$(MQTT_LOAD): Benchmarks/c/mqtt_load.c Benchmarks/c/load_common.h | setup-system
	mkdir -p .build
	cc -O2 -Wall -o $@ $<

# MQTT broker bench: modbridge's broker vs Mosquitto, same load generator, same run.
# MODBRIDGE_BROKER_CMD (PORT = the port) replaces the modbridge broker command; then nothing is built.
bench-broker: setup-system $(MQTT_LOAD)
	@if [ -z "$${MODBRIDGE_BROKER_CMD:-}" ]; then \
		echo "$(SWIFT) build -c release --product modbridge"; \
		$(SWIFT) build -c release --product modbridge; \
	fi
	scripts/broker-bench.sh --load $(MQTT_LOAD) --write BENCHMARKS.md

$(MQTT_TLS_LOAD): Benchmarks/c/mqtt_tls_load.c Benchmarks/c/load_common.h | setup-system
	mkdir -p .build
	cc -O2 -Wall -o $@ $< $$(pkg-config --cflags --libs openssl)

# Registry bench over TLS: `modbridge run` with a registry of devices vs Mosquitto with a password
# file and an ACL for the same entities; TLS logins/s, 1→1 QoS 1 msg/s, latency p99 during a burst
# of wrong-password logins.
bench-registry: setup-system $(MQTT_TLS_LOAD)
	$(SWIFT) build -c release --product modbridge
	scripts/registry-bench.sh --load $(MQTT_TLS_LOAD) --write BENCHMARKS.md

# Upstream bench: modbridge's store-and-forward drain of a 100,000-message backlog vs a Mosquitto
# bridge draining the same backlog into the same upstream Mosquitto (same run, alternating), the
# live value's wait behind the backlog, and `modbridge run` in mode upstream with 100 per-device
# connections (messages/s, CPU, memory).
bench-upstream: setup-system
	$(SWIFT) build -c release --product modbridge
	$(SWIFT) build -c release --product modbridge-upstream-bench
	.build/release/modbridge-upstream-bench --modbridge .build/release/modbridge --write BENCHMARKS.md

# Cycle bench: for each shipped profile at 9600 8E1 and 19200 8E1, the predicted poll cycle next
# to the one measured over a pty whose simulator keeps the line's character times (target: within
# 10 %), and the wire efficiency measured against the computed limit. About a minute.
bench-cycle: setup-system
	$(SWIFT) build -c release --product modbridge-cycle-bench
	.build/release/modbridge-cycle-bench --cycles 5 --write BENCHMARKS.md

# Footprint: the shipped (static-stdlib, stripped) binary's size and the idle memory of
# `modbridge run` on the demo config (after 15 s and 60 s later), with where that memory sits,
# and its resident memory polling 30,000 points/s (the gateway bench's load run, built here).
# About 2 minutes after the builds.
bench-footprint: static
	$(SWIFT) build -c release --product modbridge-gateway-bench
	scripts/footprint-bench.sh --binary $(STATIC_BIN) --load-bench .build/release/modbridge-gateway-bench --write BENCHMARKS.md

clean:
	rm -rf .build

# The version the package gets (a release script's question).
print-version:
	@echo $(VERSION)
