/// Which request headers become `HTTP_<NAME>` variables of a process, and under what name.
///
/// A header's name is the client's choice, and a child reads some variables as settings, so two
/// classes of name are never passed:
/// - `Proxy`, which would become `HTTP_PROXY`: many HTTP libraries take that variable as their proxy,
///   so a client could route the child's outgoing traffic through a host of its own ("httpoxy",
///   CVE-2016-5385). Go's `net/http/cgi` and Apache drop it the same way.
/// - names with a character other than a letter, a digit or `-` (an `_` above all): `X_Real_IP` would
///   otherwise become `HTTP_X_REAL_IP`, the same variable as a trusted proxy's `X-Real-IP`, and be merged
///   into it. Apache 2.4 and nginx (`underscores_in_headers off`) drop these too.
enum CGIHeaderName {
    /// The variable for header `name`, or nil when the header must not reach the process.
    static func variable(forHeader name: String) -> String? {
        guard !name.isEmpty, name.utf8.allSatisfy(isAllowed) else { return nil }
        let upper = String(name.uppercased().map { $0 == "-" ? "_" : $0 })
        if upper == "PROXY" { return nil }
        return "HTTP_" + upper
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
