import TLS
import Testing

/// PBKDF2-HMAC-SHA256 against published vectors, and the stored hash format.
@Suite struct PasswordHashTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let password: [UInt8]
        let salt: [UInt8]
        let iterations: Int
        let derivedKey: String
        var testDescription: String { "\(String(decoding: password, as: UTF8.self)) c=\(iterations) dkLen=\(derivedKey.count / 2)" }
    }

    // The commonly published PBKDF2-HMAC-SHA256 vectors in the layout of RFC 6070, and the two
    // of RFC 7914 §11.
    static let vectors = [
        Vector(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 1,
               derivedKey: "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"),
        Vector(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 2,
               derivedKey: "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"),
        Vector(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 4096,
               derivedKey: "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"),
        Vector(password: Array("passwordPASSWORDpassword".utf8), salt: Array("saltSALTsaltSALTsaltSALTsaltSALTsalt".utf8), iterations: 4096,
               derivedKey: "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"),
        Vector(password: Array("pass\0word".utf8), salt: Array("sa\0lt".utf8), iterations: 4096,
               derivedKey: "89b69d0516f829893c696226650a8687"),
        Vector(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1,
               derivedKey: "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"),
        Vector(password: Array("Password".utf8), salt: Array("NaCl".utf8), iterations: 80000,
               derivedKey: "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"),
    ]

    @Test(arguments: vectors)
    func pbkdf2MatchesThePublishedVector(vector: Vector) throws {
        let key = try PasswordHash.pbkdf2SHA256(password: vector.password, salt: vector.salt, iterations: vector.iterations,
                                                length: vector.derivedKey.count / 2)
        #expect(key.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() == vector.derivedKey)
    }

    @Test func aStoredHashVerifiesItsPasswordOnly() throws {
        let stored = try PasswordHash.make(password: "s3cret ünïcode", iterations: 1000)
        let encoded = stored.encoded
        #expect(encoded.hasPrefix("$pbkdf2-sha256$i=1000$"))
        let fields = encoded.split(separator: "$")
        #expect(fields.count == 4 && fields[2].count == 22 && fields[3].count == 43, "\(encoded)")  // 16 and 32 bytes, unpadded
        #expect(try PasswordHash.verify("s3cret ünïcode", against: encoded))
        #expect(try !PasswordHash.verify("s3cret ünïcodE", against: encoded))
        #expect(try !PasswordHash.verify("", against: encoded))
        #expect(try PasswordHash(parsing: encoded) == stored)
        // The same password twice: different salts, different hashes.
        let again = try PasswordHash.make(password: "s3cret ünïcode", iterations: 1000)
        #expect(again.salt != stored.salt && again.hash != stored.hash)
    }

    @Test func verifyReadsTheParametersFromTheString() throws {
        // PBKDF2-HMAC-SHA256("password", "saltsaltsaltsalt", 4096), written by hand in the format.
        let key = try PasswordHash.pbkdf2SHA256(password: Array("password".utf8), salt: Array("saltsaltsaltsalt".utf8), iterations: 4096, length: 32)
        let parsed = try PasswordHash(parsing: "$pbkdf2-sha256$i=4096$c2FsdHNhbHRzYWx0c2FsdA$" + Self.base64(key))
        #expect(parsed.iterations == 4096 && parsed.salt == Array("saltsaltsaltsalt".utf8) && parsed.hash == key)
        #expect(try parsed.verify("password"))
        // Same salt and hash with another iteration count: no longer the password's hash.
        #expect(try !PasswordHash.verify("password", against: "$pbkdf2-sha256$i=4095$c2FsdHNhbHRzYWx0c2FsdA$" + Self.base64(key)))
    }

    @Test func theDefaultIterationCountIsStored() throws {
        let stored = try PasswordHash.make(password: "default")
        #expect(stored.iterations == 600_000 && stored.encoded.hasPrefix("$pbkdf2-sha256$i=600000$"))
        #expect(try stored.verify("default"))
    }

    @Test(arguments: [
        "", "pbkdf2-sha256$i=1$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA",
        "$pbkdf2-sha1$i=1000$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA",
        "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA",
        "$pbkdf2-sha256$i=0$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA",
        "$pbkdf2-sha256$i=99999999999$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA",
        "$pbkdf2-sha256$i=1000$c2Fsd!$c2FsdHNhbHRzYWx0c2FsdA",
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0c2FsdA$c2Fs",
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0c2FsdA==$c2FsdHNhbHRzYWx0c2FsdA",
        "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0c2FsdA$c2FsdHNhbHRzYWx0c2FsdA$",
    ])
    func malformedHashesAreRefused(encoded: String) {
        #expect {
            try PasswordHash.verify("password", against: encoded)
        } throws: { error in
            guard case .malformedPasswordHash = error as? TLSError else { return false }
            return true
        }
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var text = ""
        var bits = 0
        var value = 0
        for byte in bytes {
            value = value << 8 | Int(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                text.append(alphabet[(value >> bits) & 0x3F])
            }
        }
        if bits > 0 { text.append(alphabet[(value << (6 - bits)) & 0x3F]) }
        return text
    }
}
