/// The fields of an `application/x-www-form-urlencoded` body or query (`a=1&b=x+y%21`, the
/// WHATWG URL standard's section 5): names and values with `+` as a space and percent escapes
/// decoded as UTF-8. A pair with a broken escape (`%4`, `%zz`) or bytes that are not UTF-8 is
/// skipped; a pair without `=` is a name with an empty value.
package struct HTTPForm: Sendable, Equatable {
    /// Every field, in order; a name may repeat.
    package private(set) var fields: [(name: String, value: String)] = []

    package init(parsing bytes: some Collection<UInt8>) {
        for pair in bytes.split(separator: UInt8(ascii: "&")) {
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let name = pair[pair.startIndex..<(equals ?? pair.endIndex)]
            let value = equals.map { pair[pair.index(after: $0)...] } ?? pair[pair.endIndex...]
            guard let decodedName = Self.decode(name), let decodedValue = Self.decode(value) else { continue }
            fields.append((decodedName, decodedValue))
        }
    }

    package init(parsing text: String) {
        self.init(parsing: Array(text.utf8))
    }

    package static func == (left: HTTPForm, right: HTTPForm) -> Bool {
        left.fields.count == right.fields.count && zip(left.fields, right.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// The first value of the field `name`.
    package subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// Every value of the field `name`, in order.
    package func values(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(\.value)
    }

    /// One name or value decoded: `+` is a space, `%XY` the byte 0xXY; nil for a broken escape
    /// or bytes that are not UTF-8.
    package static func decode(_ component: some Collection<UInt8>) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(component.count)
        var index = component.startIndex
        while index != component.endIndex {
            let byte = component[index]
            index = component.index(after: index)
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard index != component.endIndex, let high = hexValue(component[index]) else { return nil }
                index = component.index(after: index)
                guard index != component.endIndex, let low = hexValue(component[index]) else { return nil }
                index = component.index(after: index)
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

extension HTTPRequest {
    /// The fields of the target's query (empty without one).
    package var queryForm: HTTPForm { HTTPForm(parsing: query ?? "") }

    /// The fields of a form body (`application/x-www-form-urlencoded`); empty for any other
    /// content type.
    package var bodyForm: HTTPForm {
        let type = headers["Content-Type"]?.split(separator: ";").first?.trimmingSpaces ?? ""
        guard HTTPHeaders.sameName(type, "application/x-www-form-urlencoded") else { return HTTPForm(parsing: [UInt8]()) }
        return HTTPForm(parsing: body)
    }
}
