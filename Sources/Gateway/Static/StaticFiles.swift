import GatewayConfig
import Logging
import WebSocketEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `type: static` endpoint: answers `GET` and `HEAD` with files from its directory, never from outside
/// it. ``StaticPath`` refuses bad paths; the rest is resolved with `realpath` (so symbolic links are
/// followed) and must still lie inside the directory's own real path. Files are streamed by the engine
/// (``PlainHTTPFile``), with `ETag` and `Last-Modified`, and 304 for `If-None-Match` / `If-Modified-Since`.
final class StaticFiles: Sendable {
    let prefix: String
    let settings: StaticSettings
    let logger: Logger

    init(path: String, settings: StaticSettings, logger: Logger) {
        var prefix = Substring(path)
        while prefix.count > 1 && prefix.hasSuffix("/") { prefix = prefix.dropLast() }
        self.prefix = String(prefix)
        self.settings = settings
        self.logger = logger
    }

    /// Answers one request (on the connection's event loop: a few system calls, no reads).
    func respond(_ request: PlainHTTPRequest) -> PlainHTTPResponse {
        let segments: [String]
        let trailingSlash: Bool
        switch StaticPath.resolve(request.path, prefix: prefix) {
        case .refused(let status, let reason):
            logger.debug("static request refused", metadata: ["path": "\(request.path)", "reason": "\(reason)"])
            return Self.error(status)
        case .file(let found, let slash):
            segments = found
            trailingSlash = slash
        }
        guard let root = Self.realPath(settings.directory) else {
            logger.warning("static directory is missing", metadata: ["directory": "\(settings.directory)"])
            return Self.error(404)
        }
        let candidate = ([root == "/" ? "" : root] + segments).joined(separator: "/")
        guard var target = Self.contained(candidate, in: root), var info = Self.status(target) else {
            return Self.error(404)
        }
        // A file named as a directory (`/index.html/`) is not there.
        if trailingSlash && !info.isDirectory { return Self.error(404) }
        if info.isDirectory {
            guard let index = settings.index else { return Self.error(404) }
            if !trailingSlash {
                // Relative links in the index page resolve against the directory, so send the client there.
                let location = request.path + "/" + (request.query.isEmpty ? "" : "?\(request.query)")
                return PlainHTTPResponse(
                    status: 301, contentType: "text/plain; charset=utf-8", text: "Moved to \(location)\n",
                    headers: ["Location": location])
            }
            guard let indexPath = Self.contained(target + "/" + index, in: root), let indexInfo = Self.status(indexPath)
            else { return Self.error(404) }
            target = indexPath
            info = indexInfo
        }
        guard info.isRegularFile else { return Self.error(404) }
        let descriptor = open(target, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else { return Self.error(404) }
        // What is sent is what was opened: describe the open file, not the path.
        var opened = stat()
        guard fstat(descriptor, &opened) == 0, (opened.st_mode & S_IFMT) == S_IFREG else {
            _ = close(descriptor)
            return Self.error(404)
        }
        let file = PlainHTTPFile(takingDescriptor: descriptor, length: Int(opened.st_size))
        #if canImport(Darwin)
            let time = opened.st_mtimespec
        #else
            let time = opened.st_mtim
        #endif
        let modified = Int(time.tv_sec)
        let tag =
            "\"\(String(file.length, radix: 16))-\(String(modified, radix: 16))-\(String(Int(time.tv_nsec), radix: 16))\""
        let headers = ["ETag": tag, "Last-Modified": HTTPDate.format(modified)]
        if Self.notModified(request, tag: tag, modified: modified) {
            return PlainHTTPResponse(status: 304, contentType: ContentType.forFile(target), body: [], headers: headers)
        }
        return PlainHTTPResponse(contentType: ContentType.forFile(target), file: file, headers: headers)
    }

    /// RFC 9110 §13.2.2: `If-None-Match` decides when present; else `If-Modified-Since` (whole seconds).
    static func notModified(_ request: PlainHTTPRequest, tag: String, modified: Int) -> Bool {
        if let match = request.header("If-None-Match") {
            let tags = match.split(separator: ",").map { $0.trimmingHTTPWhitespace() }
            return tags.contains("*") || tags.contains { Self.weakTag($0) == tag }
        }
        if let since = request.header("If-Modified-Since"), let seconds = HTTPDate.parse(since) {
            return modified <= seconds
        }
        return false
    }

    /// An entity tag without a weak prefix (If-None-Match compares weakly).
    private static func weakTag(_ tag: String) -> String {
        tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag
    }

    static func error(_ status: Int) -> PlainHTTPResponse {
        PlainHTTPResponse(
            status: status, contentType: "text/plain; charset=utf-8",
            text: status == 400 ? "Bad request path.\n" : "Not Found.\n")
    }

    /// The real path of `path` when it lies inside `root` (itself a real path), else nil.
    static func contained(_ path: String, in root: String) -> String? {
        guard let real = realPath(path) else { return nil }
        if root == "/" || real == root || real.hasPrefix(root + "/") { return real }
        return nil
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    struct Status {
        let isDirectory: Bool
        let isRegularFile: Bool
    }

    static func status(_ path: String) -> Status? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let type = info.st_mode & S_IFMT
        return Status(isDirectory: type == S_IFDIR, isRegularFile: type == S_IFREG)
    }
}
