import Foundation
import PostgresNIO
import RampartCore

/// Today's budget and spending, as `rampart admin budget show --json` prints it.
public struct BudgetStatus: Sendable, Equatable {
    public let tenant: String
    public let user: String?
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
        return .object(members)
    }
}

public struct OperationCost: Sendable, Equatable {
    public let operation: String
    public let units: Int
    public let overridden: Bool
}

extension ProvisioningStore {
    public func setBudget(_ tenant: TenantID, daily: Int64, user: String?) async throws -> BudgetStatus {
        try await budget(
            "SELECT tenant_id, subject, day::text, daily_limit, spent FROM rampart.set_budget(\(tenant.rawValue), \(daily), \(user))"
        )
    }

    public func showBudget(_ tenant: TenantID, user: String?) async throws -> BudgetStatus {
        try await budget(
            "SELECT tenant_id, subject, day::text, daily_limit, spent FROM rampart.show_budget(\(tenant.rawValue), \(user))"
        )
    }

    private func budget(_ query: PostgresQuery) async throws -> BudgetStatus {
        do {
            let rows = try await connection.fetch(query, logger: logger)
            for (tenant, user, day, limit, spent) in try rows.decode(
                (String, String?, String, Int64?, Int64).self
            ) {
                return BudgetStatus(tenant: tenant, user: user, day: day, limit: limit, spent: spent)
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
