import Mapping
import Synchronization

/// Holds the configuration the console shows: written by the runtime at start and after each
/// reload, read by the site on the reactor thread; only a lock held for a copy.
package final class ConsoleConfigurationBox: Sendable {
    private let value: Mutex<LoadedConfiguration>

    package init(_ configuration: LoadedConfiguration) {
        value = Mutex(configuration)
    }

    /// The configuration now in use.
    package func current() -> LoadedConfiguration {
        value.withLock { $0 }
    }

    /// Replaces it (after a reload that was taken).
    package func replace(_ configuration: LoadedConfiguration) {
        value.withLock { $0 = configuration }
    }
}
