// A Hummingbird WebSocket echo server: every message goes back as it came (text as text, binary as
// binary). permessage-deflate is offered with the same settings wsgate and the gorilla echo server
// use in the benchmark: level 6, messages from 32 bytes compressed.
//
//     hummingbird-echo [PORT] [--deflate]
import Foundation
import Hummingbird
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging

let arguments = CommandLine.arguments.dropFirst()
let port = arguments.first.flatMap { Int($0) } ?? 9300
let deflate = arguments.contains("--deflate")

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
