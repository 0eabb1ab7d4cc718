import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The number of client connections the MCP listener holds open at once
/// (`RAMPART_HTTP_MAX_CONNECTIONS`). A connection over the cap is closed as soon as it is
/// accepted, before a byte is read, so a flood of connections costs a file descriptor for an
/// instant and never the memory or the attention of the ones already served.
///
/// A refusal is not audited: no request was read, so it has no principal or tenant, and an audit
/// row per refused connection would let a connection flood write to the database. It is counted
/// in `rampart_http_connections_refused_total` and logged, at most once per ten seconds.
final class ConnectionCap: Sendable {
    static let warningInterval: Int64 = 10

    let limit: Int
    private let open = Atomic<Int>(0)
    private let refusedSinceWarning = Atomic<Int>(0)
    private let lastWarning = Atomic<Int64>(0)
    private let logger: Logger

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    /// Counts a new connection in, or refuses it (false) when the cap is reached.
    func admit() -> Bool {
        let count = open.add(1, ordering: .relaxed).newValue
        guard count <= limit else {
            open.subtract(1, ordering: .relaxed)
            Counter(label: "rampart_http_connections_refused_total").increment()
            warnRefused()
            return false
        }
        Gauge(label: "rampart_http_connections_open").record(count)
        return true
    }

    private func warnRefused() {
        let refused = refusedSinceWarning.add(1, ordering: .relaxed).newValue
        let now = Int64(Date().timeIntervalSince1970)
        let last = lastWarning.load(ordering: .relaxed)
        guard now - last >= Self.warningInterval,
            lastWarning.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        refusedSinceWarning.subtract(refused, ordering: .relaxed)
        logger.warning(
            "connection cap reached: connections closed on accept",
            metadata: ["rampart.connection_limit": "\(limit)", "rampart.connections_refused": "\(refused)"]
        )
    }

    func release() {
        Gauge(label: "rampart_http_connections_open").record(open.subtract(1, ordering: .relaxed).newValue)
    }

    /// The handler each accepted connection gets.
    func handler() -> ConnectionCapHandler { ConnectionCapHandler(cap: self) }
}

/// Admits its connection against the cap when it becomes active and releases it when it closes.
final class ConnectionCapHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let cap: ConnectionCap
    private var counted = false

    init(cap: ConnectionCap) {
        self.cap = cap
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            cap.release()
        }
        context.fireChannelInactive()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !counted else { return }
        if cap.admit() {
            counted = true
        } else {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ConnectionCapHandler: Sendable {}
