import Metrics
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The number of client connections the MCP listener holds open at once
/// (`RAMPART_HTTP_MAX_CONNECTIONS`). A connection over the cap is closed as soon as it is
/// accepted, before a byte is read, so a flood of connections costs a file descriptor for an
/// instant and never the memory or the attention of the ones already served.
final class ConnectionCap: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection in, or refuses it (false) when the cap is reached.
    func admit() -> Bool {
        let count = open.add(1, ordering: .relaxed).newValue
        guard count <= limit else {
            open.subtract(1, ordering: .relaxed)
            Counter(label: "rampart_http_connections_refused_total").increment()
            return false
        }
        Gauge(label: "rampart_http_connections_open").record(count)
        return true
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
