package dev.weft.client;

import dev.weft.wire.Address;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/** Makes the channel for a route; tests dial the in-process transport instead. */
interface Dialer {
  int MAX_INBOUND_BYTES = 64 * 1024 * 1024;

  /** A channel, and what else to release once it is closed (a socket's event loop). */
  record Dialed(ManagedChannel channel, Runnable release) {}

  Dialed dial(Route route, String userAgent);

  /** TCP (TLS or plain text, as the route's security says), or a Unix socket through epoll. */
  static Dialer netty() {
    return (route, userAgent) -> {
      Address address = route.target();
      ManagedChannelBuilder<?> builder;
      Runnable release = () -> {};
      if (address.isUnix()) {
        checkUnixSockets(address);
        EventLoopGroup loop =
            new EpollEventLoopGroup(1, new DefaultThreadFactory("weft-client-socket", true));
        release = () -> loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        builder =
            NettyChannelBuilder.forAddress(new DomainSocketAddress(address.socket().toString()))
                .eventLoopGroup(loop)
                .channelType(EpollDomainSocketChannel.class)
                .usePlaintext();
      } else {
        builder =
            Grpc.newChannelBuilderForAddress(
                address.host(), address.port(), route.security().credentials());
        if (route.security().serverName() != null) {
          builder.overrideAuthority(route.security().serverName());
        }
      }
      return new Dialed(
          builder
              .maxInboundMessageSize(MAX_INBOUND_BYTES)
              .userAgent(userAgent)
              // A coordinator stopped (SIGSTOP) or cut off keeps its connections open and answers
              // nothing: pings end a watch on it, so the watch moves on (the server allows them).
              .keepAliveTime(10, java.util.concurrent.TimeUnit.SECONDS)
              .keepAliveTimeout(5, java.util.concurrent.TimeUnit.SECONDS)
              .build(),
          release);
    };
  }

  static void checkUnixSockets(Address address) {
    if (address.isUnix() && !Epoll.isAvailable()) {
      throw new IllegalArgumentException(
          "cannot use " + address + ": Unix sockets need Linux's epoll, not available here");
    }
  }
}
