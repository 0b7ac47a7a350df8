// The Autobahn TestSuite's client under test (scripts/autobahn-client): connects to a fuzzing server
// (kosoku's `fuzzingserver` mode), echoes every message of every case with WebSocketClient, then asks the
// server to write its reports.
//
//   wsgate-autobahn-client ws://127.0.0.1:9001 [AGENT]
import Foundation
import NIOCore
import WebSocketClient
import WebSocketEngine

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: wsgate-autobahn-client ws://HOST:PORT [AGENT]")
    exit(2)
}
let base = arguments[1].hasSuffix("/") ? String(arguments[1].dropLast()) : arguments[1]
let agent = arguments.count > 2 ? arguments[2] : "wsgate"
// Case 9.* sends messages up to 16 MiB; keep-alive pings would disturb the cases' expectations.
// Every message is compressed (compressMinSize 1, the default is 32): kosoku 0.1.0's fuzzing server
// misreads an uncompressed binary message on a deflate connection after compressed ones (12.2.1,
// 12.3.1, 12.5.1 end in "Echo'ed message length differs"); Python websockets sending small messages
// uncompressed fails the same way (scripts/autobahn_websockets_client.py, docs/client.md).
var deflate = WebSocketClientOptions().deflate ?? PerMessageDeflateConfiguration()
deflate.compressMinSize = 1
let options = WebSocketClientOptions(
    webSocket: WebSocketOptions(pingPeriod: .zero, maxFrameSize: 64 << 20, maxMessageSize: 64 << 20),
    deflate: deflate)

func caseCount() async throws -> Int {
    let session = try await WebSocketClient.connect(url: "\(base)/getCaseCount", options: options)
    var count = 0
    for await frame in session.incoming {
        if case .text(let buffer) = frame { count = Int(String(buffer: buffer)) ?? 0 }
    }
    return count
}

let count: Int
do {
    count = try await caseCount()
} catch {
    print("wsgate-autobahn-client: \(error)")
    exit(1)
}
print("wsgate-autobahn-client: \(count) cases")
for index in 1...max(1, count) where count > 0 {
    do {
        let session = try await WebSocketClient.connect(
            url: "\(base)/runCase?case=\(index)&agent=\(agent)", options: options)
        for await frame in session.incoming {
            do { try await session.send(frame) } catch { break }
        }
        _ = await session.closeReason
    } catch {
        // A case may refuse or break the handshake on purpose; the server's report has the verdict.
        print("wsgate-autobahn-client: case \(index): \(error)")
    }
}
do {
    let session = try await WebSocketClient.connect(url: "\(base)/updateReports?agent=\(agent)", options: options)
    for await _ in session.incoming {}
    _ = await session.closeReason
} catch {
    print("wsgate-autobahn-client: updateReports: \(error)")
    exit(1)
}
