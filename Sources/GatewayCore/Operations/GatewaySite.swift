import Broker
import HTTP
import Synchronization

/// What the gateway's HTTP listeners serve besides the broker's own paths: `/metrics` and
/// `/healthz` where the listener serves metrics, the console where it serves the console.
/// Called on the broker's reactor thread; every part reads snapshots only.
package final class GatewaySite: HTTPSite {
    private let console: ConsoleSite
    /// Set once the runtime exists (the broker, whose counters it reads, starts before it).
    private let operations = Mutex<OperationsEndpoints?>(nil)

    package init(console: ConsoleSite) {
        self.console = console
    }

    /// Where `/metrics` and `/healthz` read from, from now on.
    package func attach(_ endpoints: OperationsEndpoints) {
        operations.withLock { $0 = endpoints }
    }

    package func respond(to request: HTTPRequest, context: HTTPRequestContext) -> HTTPResponse {
        if context.services.contains(.metrics), request.path == "/metrics" || request.path == "/healthz" {
            guard request.method == "GET" || request.method == "HEAD" else {
                var refused = HTTPResponse.text(.methodNotAllowed, "GET only\n")
                refused.headers.add("Allow", "GET, HEAD")
                return refused
            }
            guard let endpoints = operations.withLock({ $0 }) else {
                return .text(.serviceUnavailable, "starting\n")
            }
            return request.path == "/metrics" ? endpoints.metrics() : endpoints.health()
        }
        if let answer = console.respond(to: request, context: context) { return answer }
        return .text(.notFound, "not found\n")
    }
}
