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

    /// The publish script of one instance: ``publishScript`` with the instance's id in a comment, so
    /// that its SHA-1 is this instance's alone and the `NOSCRIPT` fallback keeps its publishes in order
    /// (see ``RedisClient/enqueueEvaluation(_:sha:keys:arguments:)``). Each start leaves one script of
    /// about 700 bytes in Redis's script cache until `SCRIPT FLUSH` or a restart.
    public static func publishScript(instance: UInt64) -> RedisScript {
        RedisScript("-- wsgate instance \(String(instance, radix: 16))\n" + publishScript.source)
    }

    /// `KEYS`: stream, meta. `ARGV`: entry, stream size, ttl seconds, channel, epoch if new, and the
    /// byte counts (ascending, comma-separated, may be empty) after which the message's position
    /// `EPOCH:OFFSET` is written into the entry (`{position}` in a template).
    /// Returns `{offset, epoch}`.
    public static let publishScript = RedisScript(
        """
        local epoch = redis.call('hget', KEYS[2], 'e')
        if not epoch then
          epoch = ARGV[5]
          redis.call('hset', KEYS[2], 'e', epoch)
        end
        local offset = redis.call('hincrby', KEYS[2], 's', 1)
        local data = ARGV[1]
        if ARGV[6] ~= '' then
          local position = epoch .. ':' .. offset
          local parts, last = {}, 0
          for mark in string.gmatch(ARGV[6], '%d+') do
            local at = tonumber(mark)
            table.insert(parts, string.sub(data, last + 1, at))
            table.insert(parts, position)
            last = at
          end
          table.insert(parts, string.sub(data, last + 1))
          data = table.concat(parts)
        end
        redis.call('expire', KEYS[2], ARGV[3])
        redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[2], offset, 'd', data)
        redis.call('expire', KEYS[1], ARGV[3])
        redis.call('publish', ARGV[4], offset .. ':' .. epoch .. ':' .. data)
        return {offset, epoch}
        """
    )
}
