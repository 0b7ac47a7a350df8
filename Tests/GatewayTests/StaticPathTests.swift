import Testing

@testable import Gateway

@Suite struct StaticPathTests {
    @Test(arguments: [
        ("/", "/", [String](), true),
        ("/index.html", "/", ["index.html"], false),
        ("/a//b/", "/", ["a", "b"], true),
        ("/static", "/static", [], true),
        ("/static/css/site.css", "/static", ["css", "site.css"], false),
        ("/hello%20world.txt", "/", ["hello world.txt"], false),
        ("/caf%C3%A9", "/", ["café"], false),
    ])
    func servedPaths(path: String, prefix: String, segments: [String], trailingSlash: Bool) {
        #expect(StaticPath.resolve(path, prefix: prefix) == .file(segments: segments, trailingSlash: trailingSlash))
    }

    @Test(arguments: [
        "/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2e/x", "/..%2fetc/passwd",
        "/a%2f..%2f..%2fetc/passwd", "/%2f/etc/passwd", "/a\\..\\b", "/a%5c..%5cb", "/file%00.html", "/a%0a",
        "/.", "/./index.html", "/.git/config", "/.env", "/static/../x",
    ])
    func traversalAndHiddenPaths_areRefusedWith404(path: String) {
        guard case .refused(let status, _) = StaticPath.resolve(path, prefix: "/") else {
            Issue.record("\(path) was not refused")
            return
        }
        #expect(status == 404)
    }

    @Test(arguments: ["/%zz", "/%2", "/%", "/%ff%fe"])
    func brokenEncoding_isA400(path: String) {
        guard case .refused(let status, _) = StaticPath.resolve(path, prefix: "/") else {
            Issue.record("\(path) was not refused")
            return
        }
        #expect(status == 400)
    }

    @Test func pathsOutsideThePrefix_areRefused() {
        #expect(
            StaticPath.resolve("/statics/a", prefix: "/static")
                == .refused(status: 404, reason: "outside the endpoint's path"))
        #expect(
            StaticPath.resolve("/", prefix: "/static") == .refused(status: 404, reason: "outside the endpoint's path"))
    }

    @Test func httpDates_roundTrip_inIMFFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        for seconds in [0, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800] {
            #expect(HTTPDate.parse(HTTPDate.format(seconds)) == seconds)
        }
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        #expect(HTTPDate.parse("") == nil)
    }

    @Test func contentTypes_comeFromATable_withOctetStreamForTheRest() {
        #expect(ContentType.forFile("/x/index.HTML") == "text/html; charset=utf-8")
        #expect(ContentType.forFile("app.js") == "text/javascript; charset=utf-8")
        #expect(ContentType.forFile("logo.svg") == "image/svg+xml")
        #expect(ContentType.forFile("data.bin") == "application/octet-stream")
        #expect(ContentType.forFile("Makefile") == "application/octet-stream")
    }
}
