import TLS
import Testing

@Suite struct DigestAndBase64Tests {
    @Test func sha1OfFIPS180Examples() throws {
        #expect(try Digests.sha1(Array("abc".utf8)) == [0xA9, 0x99, 0x3E, 0x36, 0x47, 0x06, 0x81, 0x6A, 0xBA, 0x3E,
                                                         0x25, 0x71, 0x78, 0x50, 0xC2, 0x6C, 0x9C, 0xD0, 0xD8, 0x9D])
        #expect(try Digests.sha1([]).count == 20)
    }

    @Test func paddedBase64OfRFC4648Section10() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (input, output) in vectors {
            #expect(Base64.encodePadded(Array(input.utf8)) == output)
        }
        #expect(Base64.encodePadded([0xFB, 0xFF]) == "+/8=")
    }
}
