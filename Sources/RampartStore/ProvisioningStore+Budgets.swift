import Foundation
import PostgresNIO
import RampartCore

/// Today's budget and spending, as `rampart admin budget show --json` prints it.
public struct BudgetStatus: Sendable, Equatable {
    public let tenant: String
    public let user: String?
    /// The issuer of `user`; nil: the user of every issuer (spending summed).
    public let issuer: String?
    /// The UTC day, `YYYY-MM-DD`.
    public let day: String
    /// nil: no budget (unlimited).
    public let limit: Int64?
    public let spent: Int64

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "tenant": .string(tenant), "day": .string(day), "limit": limit.map(JSONValue.int) ?? .null,
            "spent": .int(spent),
        ]
        if let user { members["user"] = .string(user) }
        if let issuer { members["issuer"] = .string(issuer) }
        return .object(members)
    }
}

public struct OperationCost: Sendable, Equatable {
    public let operation: String
    public let units: Int
    public let overridden: Bool
}

extension ProvisioningStore {
    /// A tenant's budget (no user), one user's of every issuer, or one issuer's user's.
    public func setBudget(
        _ tenant: TenantID,
        daily: Int64,
        user: String?,
        issuer: String? = nil
    ) async throws -> BudgetStatus {
        try await budget(
            """
            SELECT tenant_id, subject, issuer, day::text, daily_limit, spent
            FROM rampart.set_budget(\(tenant.rawValue), \(daily), \(user), \(issuer))
            """
        )
    }

    public func showBudget(_ tenant: TenantID, user: String?, issuer: String? = nil) async throws -> BudgetStatus {
        try await budget(
            """
            SELECT tenant_id, subject, issuer, day::text, daily_limit, spent
            FROM rampart.show_budget(\(tenant.rawValue), \(user), \(issuer))
            """
        )
    }

    private func budget(_ query: PostgresQuery) async throws -> BudgetStatus {
        do {
            let rows = try await connection.fetch(query, logger: logger)
            for (tenant, user, issuer, day, limit, spent) in try rows.decode(
                (String, String?, String?, String, Int64?, Int64).self
            ) {
                return BudgetStatus(tenant: tenant, user: user, issuer: issuer, day: day, limit: limit, spent: spent)
            }
            throw RampartError.internal(detail: "budget function returned no row")
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    public func setCost(_ operation: String, units: Int, tenant: TenantID?) async throws {
        do {
            try await connection.execute(
                "SELECT * FROM rampart.set_cost(\(operation), \(Int32(clamping: units)), \(tenant?.rawValue))",
                logger: logger
            )
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    public func listCosts(tenant: TenantID?) async throws -> [OperationCost] {
        do {
            var costs: [OperationCost] = []
            let rows = try await connection.fetch(
                "SELECT operation, units, overridden FROM rampart.list_costs(\(tenant?.rawValue))",
                logger: logger
            )
            for (operation, units, overridden) in try rows.decode((String, Int, Bool).self) {
                costs.append(OperationCost(operation: operation, units: units, overridden: overridden))
            }
            return costs
        } catch {
            throw DatabaseErrors.map(error)
        }
    }
}
