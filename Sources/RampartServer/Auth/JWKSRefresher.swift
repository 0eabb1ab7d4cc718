import ServiceLifecycle

/// Refetches a JWKS URL when its keys are due (`JWKSKeys.nextRefresh`), and shuts the HTTP client
/// down at the end. With a JWKS file, or none, it only waits for shutdown.
struct JWKSRefresher: Service {
    let keys: JWKSKeys

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            guard let due = await keys.nextRefresh else {
                try? await gracefulShutdown()
                break
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(until: due) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { break }
            // An unknown kid may have refreshed the keys meanwhile, and moved the next fetch.
            if let next = await keys.nextRefresh, next > .now { continue }
            await keys.refresh()
        }
        await keys.shutdown()
    }
}
