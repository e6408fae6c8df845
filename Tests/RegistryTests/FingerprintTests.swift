import Registry
import Testing

@Suite("Registry: certificate fingerprints as the config gives them")
struct FingerprintTests {
    @Test("SHA-256 with colons and uppercase, and legacy SHA-1, normalise; other lengths and non-hex are refused")
    func parsing() {
        let sha256 = String(repeating: "AB:", count: 31) + "AB"
        #expect(CertificateFingerprint(sha256)?.hex == String(repeating: "ab", count: 32))
        #expect(CertificateFingerprint(String(repeating: "0f", count: 20))?.isSHA1 == true)
        #expect(CertificateFingerprint(String(repeating: "0f", count: 21)) == nil)
        #expect(CertificateFingerprint(String(repeating: "zz", count: 32)) == nil)
    }
}
