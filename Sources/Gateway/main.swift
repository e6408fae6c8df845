import Glibc
import GatewayCore

// modbridge: see `modbridge --help`.
let status = await Modbridge.main(Array(CommandLine.arguments.dropFirst()))
exit(status)
