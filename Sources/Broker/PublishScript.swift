import RedisClient

/// The Redis keys and the Lua script of a room (Centrifugo's layout).
///
/// Per room: a stream `PREFIX:room:ROOM:stream` whose entry ids are the offsets (`N-0`), trimmed to
/// about `stream_size` entries (`XADD … MAXLEN ~`), and a hash `PREFIX:room:ROOM:meta` with the
/// epoch (`e`) and the top offset (`s`). Messages are published on `PREFIX:room:ROOM`. One script
/// takes the next offset, appends to the stream and publishes, so the three never disagree; both
/// keys expire `stream_ttl` after the room's last message.
public struct RoomKeys: Sendable, Equatable {
    /// The pub/sub channel.
    public let channel: String
    /// The stream.
    public let stream: String
    /// The hash with the epoch and the top offset.
    public let meta: String

    /// The keys of `room` under `prefix`.
    public init(prefix: String, room: String) {
        channel = "\(prefix):room:\(room)"
        stream = channel + ":stream"
        meta = channel + ":meta"
    }

    /// The room named by a channel of `prefix`; nil for another channel.
    public static func room(ofChannel channel: String, prefix: String) -> String? {
        let start = "\(prefix):room:"
        guard channel.hasPrefix(start) else { return nil }
        return String(channel.dropFirst(start.count))
    }

    /// `KEYS`: stream, meta. `ARGV`: entry, stream size, ttl seconds, channel, epoch if new.
    /// Returns `{offset, epoch}`.
    public static let publishScript = RedisScript(
        """
        local epoch = redis.call('hget', KEYS[2], 'e')
        if not epoch then
          epoch = ARGV[5]
          redis.call('hset', KEYS[2], 'e', epoch)
        end
        local offset = redis.call('hincrby', KEYS[2], 's', 1)
        redis.call('expire', KEYS[2], ARGV[3])
        redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[2], offset, 'd', ARGV[1])
        redis.call('expire', KEYS[1], ARGV[3])
        redis.call('publish', ARGV[4], offset .. ':' .. epoch .. ':' .. ARGV[1])
        return {offset, epoch}
        """
    )
}
