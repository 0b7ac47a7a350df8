// A Hummingbird WebSocket echo server: every message goes back as it came (text as text, binary as
// binary). permessage-deflate is offered with the same settings wsgate and the gorilla echo server
// use in the benchmark: level 6, messages from 32 bytes compressed.
//
// With --hub it is a broadcast hub instead (a peer in Benchmarks/run.py's broadcast): every text
// message goes to every client, the sender included, as Benchmarks/broadcast/hub does. Each client has
// a writer task fed by a buffer of 256 messages (gorilla's hub drops a client whose 256 are full;
// here the oldest are dropped), the way Hummingbird's own chat example serves its connections.
//
//     hummingbird-echo [PORT] [--deflate] [--hub]
import Foundation
import Hummingbird
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging
import Synchronization

let arguments = CommandLine.arguments.dropFirst()
let port = arguments.first.flatMap { Int($0) } ?? 9300
let deflate = arguments.contains("--deflate")
let hub = arguments.contains("--hub")

/// The hub's clients: each one's buffer, drained by its writer task.
final class Clients: Sendable {
    private let all = Mutex<[Int: AsyncStream<String>.Continuation]>([:])
    private let next = Atomic<Int>(0)

    func add(_ continuation: AsyncStream<String>.Continuation) -> Int {
        let id = next.add(1, ordering: .relaxed).oldValue
        all.withLock { $0[id] = continuation }
        return id
    }

    func remove(_ id: Int) {
        all.withLock { $0.removeValue(forKey: id) }?.finish()
    }

    func broadcast(_ text: String) {
        for continuation in all.withLock({ Array($0.values) }) { continuation.yield(text) }
    }
}

let clients = Clients()

var logger = Logger(label: "hummingbird-echo")
logger.logLevel = .warning

let extensions: [WebSocketExtensionFactory] =
    deflate
    ? [
        .perMessageDeflate(
            compressionLevel: 6, maxDecompressedFrameSize: 1 << 24, minFrameSizeToCompress: 32)
    ] : []

let app = Application(
    router: Router(),
    server: .http1WebSocketUpgrade(
        configuration: .init(ws: .init(maxFrameSize: 1 << 24, extensions: extensions))
    ) { _, _, _ in
        .upgrade([:]) { inbound, outbound, _ in
            if hub {
                let (stream, continuation) = AsyncStream.makeStream(
                    of: String.self, bufferingPolicy: .bufferingNewest(256))
                let id = clients.add(continuation)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await text in stream { try await outbound.write(.text(text)) }
                    }
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        if case .text(let text) = message { clients.broadcast(text) }
                    }
                    clients.remove(id)
                    group.cancelAll()
                }
                return
            }
            for try await message in inbound.messages(maxSize: 1 << 24) {
                switch message {
                case .binary(let buffer): try await outbound.write(.binary(buffer))
                case .text(let string): try await outbound.write(.text(string))
                }
            }
        }
    },
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    logger: logger
)
try await app.runService()
