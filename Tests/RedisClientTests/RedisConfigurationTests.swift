import Testing

@testable import RedisClient

@Suite struct RedisURLTests {
    struct Good: Sendable {
        var url: String
        var secure = false
        var host: String
        var port = 6379
        var username: String?
        var password: String?
        var database = 0
    }

    static let good: [Good] = [
        Good(url: "redis://localhost", host: "localhost"),
        Good(url: "redis://localhost:6380/", host: "localhost", port: 6380),
        Good(url: "REDIS://10.0.0.1:7000/3", host: "10.0.0.1", port: 7000, database: 3),
        Good(url: "rediss://cache.example.com", secure: true, host: "cache.example.com"),
        Good(url: "redis://:s3cret@h", host: "h", password: "s3cret"),
        Good(url: "redis://s3cret@h", host: "h", password: "s3cret"),
        Good(
            url: "redis://alice:pa%3Ass%40word@h:1/15", host: "h", port: 1, username: "alice", password: "pa:ss@word",
            database: 15),
        Good(url: "redis://u:p@ss@h", host: "h", username: "u", password: "p@ss"),
        Good(url: "redis://[::1]:6390/2", host: "::1", port: 6390, database: 2),
        Good(url: "redis://[::1]", host: "::1"),
    ]

    @Test(arguments: good)
    func validURL_givesItsParts(_ expected: Good) throws {
        let url = try RedisURL(expected.url)
        #expect(url.secure == expected.secure)
        #expect(url.host == expected.host)
        #expect(url.port == expected.port)
        #expect(url.username == expected.username)
        #expect(url.password == expected.password)
        #expect(url.database == expected.database)
    }

    static let bad: [(String, String)] = [
        ("http://localhost", "the scheme must be redis:// or rediss://"),
        ("localhost:6379", "the scheme must be redis://"),
        ("redis://", "the host is missing"),
        ("redis://:pw@:6379", "the host is missing"),
        ("redis://h:0", "port '0' is not a number from 1 to 65535"),
        ("redis://h:99999", "port '99999'"),
        ("redis://h:port", "port 'port'"),
        ("redis://h/db", "database 'db' is not a number"),
        ("redis://h/-1", "database '-1'"),
        ("redis://h?timeout=1", "query parameters"),
        ("redis://[::1:6379", "closing ']'"),
        ("redis://u:p%4@h", "must start an escape"),
    ]

    @Test(arguments: bad)
    func invalidURL_saysWhatIsWrong(_ url: String, _ reason: String) {
        #expect {
            _ = try RedisURL(url)
        } throws: { error in
            let text = "\(error)"
            return text.contains(reason) && text.contains("write redis://")
        }
    }

    @Test func errors_neverShowThePassword() {
        #expect(RedisURL.redacted("redis://alice:hunter2@h:1/0") == "redis://alice:***@h:1/0")
        #expect(RedisURL.redacted("redis://hunter2@h") == "redis://***@h")
        #expect(RedisURL.redacted("redis://h:1") == "redis://h:1")
        #expect(
            throws: RedisClientError.invalidURL(
                "redis://alice:***@h:x", reason: "port 'x' is not a number from 1 to 65535")
        ) {
            try RedisURL("redis://alice:hunter2@h:x")
        }
    }

    @Test func configuration_fromURL_setsTLSForRediss() throws {
        #expect(try RedisConfiguration(url: "rediss://h").tls != nil)
        #expect(try RedisConfiguration(url: "redis://h").tls == nil)
        #expect(try RedisConfiguration(url: "redis://[::1]:7").address == "[::1]:7")
    }
}

@Suite struct ReconnectBackoffTests {
    @Test func delays_doubleUpToTheMaximum_andResetStartsOver() {
        var backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(1), jitter: 0)
        let delays = (0..<7).map { _ in backoff.nextDelay() }
        #expect(
            delays == [100, 200, 400, 800, 1000, 1000, 1000].map { Duration.milliseconds($0) }
        )
        #expect(backoff.attempts == 7)
        backoff.reset()
        #expect(backoff.nextDelay() == .milliseconds(100))
    }

    @Test func jitter_onlyShortensTheDelay_withinItsFraction() {
        var backoff = ReconnectBackoff(initial: .seconds(1), maximum: .seconds(1), jitter: 0.5)
        var random = SplitMix64(seed: 3)
        for _ in 0..<200 {
            let delay = backoff.nextDelay(using: &random)
            #expect(delay <= .seconds(1) && delay >= .milliseconds(500))
        }
    }

    @Test func manyAttempts_neverOverflow() {
        var backoff = ReconnectBackoff(initial: .milliseconds(1), maximum: .seconds(30), jitter: 0)
        for _ in 0..<10_000 { _ = backoff.nextDelay() }
        #expect(backoff.nextDelay() == .seconds(30))
    }
}
