import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Bounds how long one client connection can hold a graceful shutdown. When the listener stops
/// taking requests, Hummingbird closes idle connections at once and lets the others finish their
/// request; this handler closes a connection whose request body is still arriving (nothing has
/// acted on it: a request runs only once its body is complete), and closes any connection still
/// open `limit` after the shutdown began — past every request deadline — so a stalled or hostile
/// client can delay the exit, and the final audit flush, by at most that much.
final class ShutdownDrainHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limit: TimeAmount
    private var bodyArriving = false
    private var backstop: Scheduled<Void>?

    init(limit: TimeAmount) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: bodyArriving = true
        case .body: break
        case .end: bodyArriving = false
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if bodyArriving {
            context.close(promise: nil)
            return
        }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        backstop = context.eventLoop.scheduleTask(in: limit) { loopBound.value.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        backstop?.cancel()
        backstop = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        backstop?.cancel()
        backstop = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ShutdownDrainHandler: Sendable {}
