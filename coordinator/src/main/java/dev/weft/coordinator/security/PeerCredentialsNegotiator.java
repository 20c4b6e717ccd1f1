package dev.weft.coordinator.security;

import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.netty.shaded.io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.shaded.io.grpc.netty.ProtocolNegotiationEvent;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.PeerCredentials;
import io.grpc.netty.shaded.io.netty.util.AsciiString;
import java.io.IOException;

/**
 * The Unix socket's protocol negotiation: plain text, as grpc-netty's own server negotiator does it
 * (wait until the connection is active, then hand it to gRPC), with one step between: the peer's
 * credentials, read from the kernel (SO_PEERCRED on the accepted socket), go onto the connection's
 * attributes as a {@link UnixPeer}, which every call on it then carries ({@code
 * ServerCall.getAttributes()}). A connection whose credentials cannot be read is closed before gRPC
 * sees it.
 *
 * <p>Built on grpc-netty's {@code Internal*} negotiator API, the route gRPC itself takes for its
 * own negotiators (xDS, ALTS): gRPC has no public API for peer credentials, and Netty's epoll
 * channels are final.
 *
 * <pre>
 *   [WaitUntilActive] -> [PeerCredentials.Handler] -> [GrpcNegotiation] -> gRPC HTTP/2
 *   (adds the addresses)  (adds UnixPeer; overrides   (completes the negotiation
 *                          the remote address)          with the attributes)
 * </pre>
 */
final class PeerCredentialsNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {
  private static final System.Logger LOG =
      System.getLogger(PeerCredentialsNegotiator.class.getName());
  private static final AsciiString HTTP = AsciiString.of("http");

  @Override
  public AsciiString scheme() {
    return HTTP;
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    ChannelHandler complete = InternalProtocolNegotiators.grpcNegotiationHandler(grpcHandler);
    // After WaitUntilActive, which sets the remote address: ours must replace it.
    return InternalProtocolNegotiators.waitUntilActiveHandler(
        new Handler(complete, grpcHandler), grpcHandler.getNegotiationLogger());
  }

  @Override
  public void close() {}

  /** Reads the peer's credentials once, when the negotiation event passes, and adds them. */
  private static final class Handler
      extends InternalProtocolNegotiators.ProtocolNegotiationHandler {
    Handler(ChannelHandler next, GrpcHttp2ConnectionHandler grpcHandler) {
      super(next, "peer credentials", grpcHandler.getNegotiationLogger());
    }

    @Override
    protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
      UnixPeer peer;
      try {
        if (!(ctx.channel() instanceof EpollDomainSocketChannel channel)) {
          throw new IOException("not a Unix domain socket: " + ctx.channel().getClass());
        }
        PeerCredentials credentials = channel.peerCredentials();
        peer = new UnixPeer(credentials.uid(), credentials.pid());
      } catch (IOException | RuntimeException e) {
        LOG.log(
            System.Logger.Level.WARNING,
            "closing a connection to the Unix socket whose peer credentials cannot be read: {0}",
            e.toString());
        ctx.close();
        return;
      }
      ProtocolNegotiationEvent event = getProtocolNegotiationEvent();
      Attributes attributes =
          InternalProtocolNegotiationEvent.getAttributes(event).toBuilder()
              .set(UnixPeer.KEY, peer)
              .set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, peer)
              .build();
      replaceProtocolNegotiationEvent(
          InternalProtocolNegotiationEvent.withAttributes(event, attributes));
      fireProtocolNegotiationEvent(ctx);
    }
  }
}
