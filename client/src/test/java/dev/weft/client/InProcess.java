package dev.weft.client;

import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/** Clients whose addresses are in-process server names ({@code NAME:1}), in plain text. */
final class InProcess {
  private InProcess() {}

  static Address address(String name) {
    return new Address(name, 1);
  }

  static final Dialer DIALER =
      (route, userAgent) ->
          new Dialer.Dialed(
              InProcessChannelBuilder.forName(route.target().host()).userAgent(userAgent).build(),
              () -> {});

  static WeftClient client(Duration patience, String... names) {
    List<Address> addresses = Arrays.stream(names).map(InProcess::address).toList();
    return WeftClient.open(
        new Addresses(addresses),
        address -> new Route(address, Route.plainText()),
        DIALER,
        patience);
  }
}
