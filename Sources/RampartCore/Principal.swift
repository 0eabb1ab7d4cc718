/// Who is calling: taken from a verified token only, never from a URI or an argument.
public struct Principal: Sendable, Hashable {
    public let tenant: TenantID
    public let issuer: String
    public let subject: String
    /// Token scopes ∩ the tenant's grants (CONTRACT.md §6).
    public let scopes: Set<Scope>
    /// The token's `jti`, else a hash of the token: the key of its implicit conversation.
    public let tokenKey: String
    /// The token's `rampart_scope` claim: URI patterns a conversation starts from.
    public let conversationScope: [String]?
    /// Seconds since 1970 when the token expires.
    public let expiresAt: Int64

    public init(
        tenant: TenantID,
        issuer: String,
        subject: String,
        scopes: Set<Scope>,
        tokenKey: String,
        conversationScope: [String]?,
        expiresAt: Int64
    ) {
        self.tenant = tenant
        self.issuer = issuer
        self.subject = subject
        self.scopes = scopes
        self.tokenKey = tokenKey
        self.conversationScope = conversationScope
        self.expiresAt = expiresAt
    }

    /// The same principal with its scopes narrowed to what the tenant was granted.
    public func granted(_ tenantGrants: Set<Scope>) -> Principal {
        Principal(
            tenant: tenant,
            issuer: issuer,
            subject: subject,
            scopes: scopes.intersection(tenantGrants),
            tokenKey: tokenKey,
            conversationScope: conversationScope,
            expiresAt: expiresAt
        )
    }
}
