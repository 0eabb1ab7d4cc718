import PostgresNIO
import RampartCore

extension ProvisioningStore {
    public func addRedaction(
        _ tenant: TenantID,
        collection: String,
        field: String,
        action: String,
        unlessScope: String?
    ) async throws {
        try await run(
            """
            SELECT 1 FROM rampart.add_redaction(\(tenant.rawValue), \(collection), \(field), \(action), \(unlessScope))
            """
        )
    }

    public func removeRedaction(_ tenant: TenantID, collection: String, field: String) async throws {
        try await run("SELECT rampart.remove_redaction(\(tenant.rawValue), \(collection), \(field))")
    }

    public func listRedactions(_ tenant: TenantID) async throws -> [RedactionRule] {
        do {
            var rules: [RedactionRule] = []
            let rows = try await connection.fetch(
                "SELECT collection, field, action, unless_scope FROM rampart.list_redactions(\(tenant.rawValue))",
                logger: logger
            )
            for (collection, field, action, unless) in try rows.decode((String, String, String, String?).self) {
                guard let action = RedactionRule.Action(rawValue: action) else { continue }
                rules.append(
                    RedactionRule(
                        collection: collection,
                        field: field,
                        action: action,
                        unlessScope: unless.flatMap(Scope.init(known:))
                    )
                )
            }
            return rules
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    public func setDetection(_ tenant: TenantID, on: Bool) async throws {
        try await run("SELECT rampart.set_detection(\(tenant.rawValue), \(on))")
    }
}
