import Foundation
import Hummingbird
import Logging
import NIOPosix
import SwitchboardCore

/// The files under `server.web_root`, as Hummingbird's `FileMiddleware` reads them, with what may be served narrowed:
/// regular files and folders only, no dotfiles, and nothing that resolves (through symbolic links) outside the root
/// unless `server.web_root_follow_symlinks` is on.
struct WebRootFiles: FileProvider {
    typealias FileAttributes = LocalFileSystem.FileAttributes
    typealias FileIdentifier = String

    private let files: LocalFileSystem
    /// The root with every link resolved, ending in "/".
    private let resolvedRoot: String
    private let followsLinksOutside: Bool

    init(root: String, followsLinksOutside: Bool, logger: Logger) {
        self.files = LocalFileSystem(rootFolder: root, threadPool: .singleton, logger: logger)
        let resolved = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        self.resolvedRoot = resolved.hasSuffix("/") ? resolved : resolved + "/"
        self.followsLinksOutside = followsLinksOutside
    }

    func getFileIdentifier(_ path: String) -> String? {
        guard WebRootPath.check(path) == .servable, let candidate = files.getFileIdentifier(path) else { return nil }
        var status = stat()
        guard let real = realpath(candidate, nil) else { return nil }
        defer { free(real) }
        let resolved = String(cString: real)
        guard followsLinksOutside || resolved + "/" == resolvedRoot || resolved.hasPrefix(resolvedRoot) else { return nil }
        // Sockets, FIFOs and devices are not files to serve (reading a FIFO would hang the request).
        guard stat(resolved, &status) == 0 else { return nil }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFDIR else { return nil }
        return candidate
    }

    func getAttributes(id: String) async throws -> FileAttributes? { try await files.getAttributes(id: id) }

    func loadFile(id: String, context: some RequestContext) async throws -> ResponseBody {
        try await files.loadFile(id: id, context: context)
    }

    func loadFile(id: String, range: ClosedRange<Int>, context: some RequestContext) async throws -> ResponseBody {
        try await files.loadFile(id: id, range: range, context: context)
    }
}

/// Runs in front of every route: a request path with a control character (raw or percent-decoded) is answered 400
/// before anything reads it, and static files leave with `X-Content-Type-Options: nosniff` and a content type even
/// when their extension has none (`application/octet-stream`), so a browser never guesses HTML.
struct RequestPathGuard<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let raw = request.uri.path
        if WebRootPath.containsControlCharacter(raw) || WebRootPath.containsControlCharacter(raw.removingPercentEncoding ?? "") {
            throw HTTPError(.badRequest, message: "request path contains a control character")
        }
        var response = try await next(request, context)
        if context.coreContext.endpointPath.value == "FileMiddleware" {
            response.headers[.xContentTypeOptions] = "nosniff"
            if response.headers[.contentType] == nil { response.headers[.contentType] = "application/octet-stream" }
        }
        return response
    }
}
