/// modbridge's version: what `modbridge --version`, the `gateway_started` log line and
/// `modbridge_build_info` say. The Makefile reads it from here for the `.deb` (one place to change).
package enum ModbridgeVersion {
    package static let current = "0.18.0~dev"
}
