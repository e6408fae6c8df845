/// The contract's password rule (docs/iot-core.md, "Resources"): at least 14 characters, from at
/// least 3 of the classes lowercase, uppercase, digits, other.
package enum PasswordRules {
    package static let minimumLength = 14
    package static let minimumClasses = 3

    /// The rule `password` breaks, said for a person, or nil if it is strong enough.
    package static func weakness(of password: String) -> String? {
        if password.count < minimumLength {
            return "it has \(password.count) characters, at least \(minimumLength) are needed"
        }
        var lower = false, upper = false, digit = false, other = false
        for scalar in password.unicodeScalars {
            if scalar.properties.isLowercase {
                lower = true
            } else if scalar.properties.isUppercase {
                upper = true
            } else if ("0"..."9").contains(scalar) {
                digit = true
            } else {
                other = true
            }
        }
        let classes = [lower, upper, digit, other].filter { $0 }.count
        if classes < minimumClasses {
            return "it has characters from \(classes) of lowercase, uppercase, digits and other characters, at least \(minimumClasses) are needed"
        }
        return nil
    }
}
