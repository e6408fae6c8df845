import FoundationEssentials
import Mapping

/// Suites that parse profiles written inline: the profile, or its problems as "path: message"
/// lines for exact comparison.
protocol ProfileSourceParsing {}

extension ProfileSourceParsing {
    func parse(_ json: String) throws(MappingError) -> DeviceProfile {
        try DeviceProfile.parse(Data(json.utf8), file: "p.json")
    }

    func problems(_ json: String) -> [String] {
        do {
            _ = try parse(json)
            return []
        } catch {
            return error.problems.map { "\($0.path ?? "-"): \($0.message)" }
        }
    }
}
