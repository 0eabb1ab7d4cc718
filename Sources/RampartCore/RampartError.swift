/// The error every Rampart layer throws.
///
/// `description` is safe to show to a client or an operator: it says what was wrong with the
/// request, never how the server is built. `detail` is for the server log only (at debug level).
public struct RampartError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// A stable, machine-readable kind; codes can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidArgument = "invalid_argument"
            case notFound = "not_found"
            case alreadyExists = "already_exists"
            case conflict
            case configuration
            case unavailable
            case refused
            case `internal`
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The caller sent something malformed; the message names what.
        public static let invalidArgument = Code(.invalidArgument)
        /// The thing does not exist (or may not be seen: the two are never distinguished).
        public static let notFound = Code(.notFound)
        public static let alreadyExists = Code(.alreadyExists)
        /// An optimistic-concurrency or state conflict.
        public static let conflict = Code(.conflict)
        /// A configuration value is missing or invalid; the message names the key.
        public static let configuration = Code(.configuration)
        /// A dependency (the database) cannot be reached.
        public static let unavailable = Code(.unavailable)
        /// A safety check refused to proceed (for example the start-up self-check).
        public static let refused = Code(.refused)
        /// Anything else; the message is generic.
        public static let `internal` = Code(.internal)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The one-line message that may be shown to whoever made the request.
    public let message: String
    /// Extra context for logs; never shown to clients.
    public let detail: String?

    public init(_ code: Code, _ message: String, detail: String? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
    }

    public var description: String { message }
    public var debugDescription: String {
        detail.map { "\(code): \(message) (\($0))" } ?? "\(code): \(message)"
    }

    public static func invalidArgument(_ message: String) -> RampartError { .init(.invalidArgument, message) }
    public static func configuration(key: String, _ problem: String) -> RampartError {
        .init(.configuration, "\(key): \(problem)")
    }
    public static func `internal`(detail: String) -> RampartError {
        .init(.internal, "internal error", detail: detail)
    }
}
