import RampartCore

/// Why a request was not authenticated. `reason` goes to the log and the audit trail; the client
/// only ever learns the HTTP status and the challenge (RFC 6750), never which check failed.
public struct AuthFailure: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// 401: no token, or a token that is not valid here (unknown tenant included).
        case unauthenticated
        /// 403: a valid token of a suspended tenant.
        case tenantSuspended
        /// 503: the tenant could not be looked up (the database is unreachable).
        case unavailable
    }

    public let kind: Kind
    public let reason: String
    /// Whether the request carried a token at all (adds `error="invalid_token"` to the challenge).
    public let tokenPresented: Bool
    /// The tenant of a verified token whose tenant refused it (suspended): its audit trail
    /// records the refusal. Never set for a tenant that does not exist.
    public var tenant: TenantID?

    public init(kind: Kind, reason: String, tokenPresented: Bool, tenant: TenantID? = nil) {
        self.kind = kind
        self.reason = reason
        self.tokenPresented = tokenPresented
        self.tenant = tenant
    }

    public static func invalid(_ reason: String) -> AuthFailure {
        AuthFailure(kind: .unauthenticated, reason: reason, tokenPresented: true)
    }

    public static let missing = AuthFailure(kind: .unauthenticated, reason: "no bearer token", tokenPresented: false)
}
