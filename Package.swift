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
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),

        // Our modules; see DESIGN.md for the direction of dependencies.
        .target(name: "Serial"),
        .target(name: "Modbus", dependencies: ["Serial", "CModbus"]),
        .target(name: "Mapping"),
        .target(name: "MQTT"),
        .target(name: "Broker", dependencies: ["MQTT"]),
        .executableTarget(
            name: "modbridge",
            dependencies: ["Serial", "Modbus", "Mapping"],
            path: "Sources/Gateway"
        ),

        // Benchmarks (`make bench`), not shipped.
        .executableTarget(
            name: "modbridge-bench",
            dependencies: ["Serial", "Modbus"],
            path: "Benchmarks/BusBench"
        ),

        .testTarget(name: "SerialTests", dependencies: ["Serial"]),
        .testTarget(name: "ModbusTests", dependencies: ["Modbus", "Serial"]),
        .testTarget(name: "MappingTests", dependencies: ["Mapping"]),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT"]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker", "MQTT"]),
        .testTarget(name: "GatewayTests", dependencies: ["Modbus", "Serial"]),
        .testTarget(name: "InteropTests", dependencies: ["Modbus", "Serial"]),
    ],
    swiftLanguageModes: [.v6]
)
