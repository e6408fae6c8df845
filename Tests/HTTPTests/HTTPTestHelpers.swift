import HTTP

/// The requests a framer with `limits` reads from `bytes` given in `chunks` pieces split at
/// `splits`, and the error that stopped it, if any.
func frameRequests(_ bytes: [UInt8], splits: [Int] = [], limits: HTTPLimits = HTTPLimits()) -> (requests: [HTTPRequest], error: HTTPError?) {
    var framer = HTTPRequestFramer(limits: limits)
    var requests: [HTTPRequest] = []
    var from = 0
    for end in splits + [bytes.count] {
        framer.append(bytes[from..<end])
        from = end
        do {
            while let request = try framer.next() { requests.append(request) }
        } catch {
            return (requests, error)
        }
    }
    return (requests, nil)
}

/// Every way of cutting `bytes` in two, then byte by byte.
func everySplit(of bytes: [UInt8]) -> [[Int]] {
    (0...bytes.count).map { [$0] } + [Array(1..<max(bytes.count, 1))]
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
