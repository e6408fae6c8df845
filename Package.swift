// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "modbridge",
    products: [
        .executable(name: "modbridge", targets: ["modbridge"]),
    ],
    dependencies: [],
    targets: [
        // C libraries, reached only through these system-library targets.
        .systemLibrary(
            name: "CModbus",
            path: "Sources/CModbus",
            pkgConfig: "libmodbus",
            providers: [.apt(["libmodbus-dev"])]
        ),
        // Linux calls Swift's Glibc module does not export (epoll, eventfd); only POSIX imports it.
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),

        // Our modules; docs/architecture.md gives the direction of dependencies (LayoutTests check it). POSIX is the base they
        // share: errno, the one checked-syscall helper, dedicated threads, the epoll reactor and
        // its eventfd wake-up (Reactor/).
        .target(name: "POSIX", dependencies: ["CSystem"]),
        .target(name: "Serial", dependencies: ["POSIX"]),
        .target(name: "Modbus", dependencies: ["POSIX", "Serial", "CModbus"]),
        .target(name: "Mapping", dependencies: ["POSIX", "Serial"]),
        // The MQTT 3.1.1 codec depends on nothing: the client, which owns a socket and a thread, is
        // its own module.
        .target(name: "MQTT"),
        // Upstream links speak TLS through the TLS module's memory-BIO connections.
        .target(name: "MQTTClient", dependencies: ["MQTT", "POSIX", "TLS"]),
        // Record logs with CRC framing, torn-tail replay and atomic compaction (the broker's state,
        // the coming upstream queue).
        .target(name: "Storage", dependencies: ["POSIX"]),
        // TLS contexts and connections over memory BIOs, certificate fingerprints, password
        // hashes: the only module that imports COpenSSL.
        .target(name: "TLS", dependencies: ["POSIX", "COpenSSL"]),
        // HTTP/1.1 requests and responses, WebSocket frames: a codec that depends on nothing, like MQTT.
        .target(name: "HTTP"),
        // The broker serves TLS listeners through the TLS module's memory-BIO connections, and
        // HTTP listeners (MQTT over WebSocket, the console, /metrics) in the same reactor.
        .target(name: "Broker", dependencies: ["POSIX", "MQTT", "HTTP", "Storage", "TLS"]),
        // The IoT Core policy (docs/iot-core.md): logins, the access table, aliases and $me,
        // permanent topics, monitoring; plugged into the broker through its policy hooks.
        .target(name: "Registry", dependencies: ["POSIX", "MQTT", "TLS", "Broker"]),
        // The gateway as a library (CLI commands, runtime, bus poller), so tests and later tools
        // reach it in process; the executable is only its main.swift.
        .target(name: "GatewayCore", dependencies: ["POSIX", "Serial", "Modbus", "Mapping", "MQTT", "MQTTClient", "Storage", "TLS", "HTTP", "Broker", "Registry"]),
        .executableTarget(name: "modbridge", dependencies: ["GatewayCore"], path: "Sources/Gateway"),

        // Benchmarks (`make bench`), not shipped.
        .target(name: "BenchSupport", path: "Benchmarks/BenchSupport"),
        .executableTarget(
            name: "modbridge-bench",
            dependencies: ["BenchSupport", "POSIX", "Serial", "Modbus"],
            path: "Benchmarks/BusBench"
        ),
        .executableTarget(
            name: "modbridge-gateway-bench",
            dependencies: ["BenchSupport", "TestSupport", "POSIX", "Modbus", "Mapping", "MQTT"],
            path: "Benchmarks/GatewayBench"
        ),
        .executableTarget(
            name: "modbridge-cycle-bench",
            dependencies: ["BenchSupport", "POSIX", "Serial", "Modbus", "Mapping", "GatewayCore"],
            path: "Benchmarks/CycleBench"
        ),
        .executableTarget(
            name: "modbridge-upstream-bench",
            dependencies: ["BenchSupport", "TestSupport", "POSIX", "MQTT", "MQTTClient", "Storage", "Mapping", "GatewayCore"],
            path: "Benchmarks/UpstreamBench"
        ),

        // Helpers the test targets (and the gateway benchmark) share: temporary folders, child
        // processes, free ports, MQTT test clients, Mosquitto.
        .target(name: "TestSupport", dependencies: ["POSIX", "MQTT", "MQTTClient", "TLS"], path: "Tests/TestSupport"),
        .testTarget(name: "POSIXTests", dependencies: ["POSIX", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["POSIX", "Storage", "TestSupport"]),
        .testTarget(name: "SerialTests", dependencies: ["POSIX", "Serial", "TestSupport"]),
        .testTarget(name: "ModbusTests", dependencies: ["POSIX", "Modbus", "Serial", "TestSupport"]),
        .testTarget(name: "MappingTests", dependencies: ["Mapping", "Serial", "TestSupport"]),
        .testTarget(name: "MQTTTests", dependencies: ["POSIX", "MQTT", "MQTTClient", "TLS", "Broker", "TestSupport"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS", "TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "POSIX", "TLS", "TestSupport"]),
        .testTarget(name: "BrokerTests", dependencies: ["POSIX", "Broker", "MQTT", "HTTP", "TLS", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["POSIX", "Registry", "Broker", "MQTT", "TLS", "TestSupport"]),
        .testTarget(name: "GatewayTests", dependencies: ["GatewayCore", "POSIX", "Modbus", "Mapping", "Serial", "Broker", "MQTT", "MQTTClient", "TLS", "HTTP", "Registry", "Storage", "TestSupport"]),
        // Reads docs/architecture.md and every import under Sources/: the module graph holds.
        .testTarget(name: "LayoutTests", dependencies: ["TestSupport"]),
        .testTarget(name: "InteropTests", dependencies: ["POSIX", "Modbus", "Serial", "Broker", "MQTT", "MQTTClient", "TLS", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
