package dev.weft.cli;

import dev.weft.client.Route;
import dev.weft.coordinator.security.LocalCoordinators;
import dev.weft.security.ClientSecurity;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code --coordinator HOST:PORT} and the TLS options, shared by every command that talks to a
 * coordinator.
 */
final class ClientOptions {
  // Held here so the level set below sticks: JUL forgets the settings of loggers nobody references.
  private static final Logger GRPC_LOG = Logger.getLogger("io.grpc");

  @Option(
      names = "--coordinator",
      paramLabel = "HOST:PORT[,HOST:PORT...]|unix:PATH",
      defaultValue = "${env:WEFT_COORDINATOR:-" + Address.DEFAULT + "}",
      converter = AddressConverters.Coordinators.class,
      description =
          "The coordinator to talk to: its port, or its Unix socket, where it knows you by your"
              + " uid and needs no token; or the ports of coordinators sharing one journal,"
              + " separated by commas, of which the leader is found and followed (default:"
              + " $WEFT_COORDINATOR, else "
              + Address.DEFAULT
              + ").")
  Addresses coordinator;

  @Mixin TlsClientOptions tls;

  CoordinatorClient connect() {
    // A client reports every failure itself, on one line; gRPC's own warnings (with stack traces,
    // e.g. for a host name that does not resolve) would only repeat it.
    GRPC_LOG.setLevel(Level.SEVERE);
    if (!coordinator.isList()) {
      Route route = route(coordinator.first());
      if (route.security() == null) {
        throw TlsClientOptions.noToken(coordinator.first(), false);
      }
    }
    return new CoordinatorClient(coordinator, this::route);
  }

  /**
   * How to reach {@code address} now: the address itself, except that a loopback port given no
   * token, served by this user's coordinator with a Unix socket this user may connect to (its
   * registry says so), is reached through that socket: the kernel vouches for us there, no token
   * needed. Otherwise the port, with the admin token the registry leads to (see {@link
   * TlsClientOptions}); with no security when there is none to talk with.
   */
  Route route(Address address) {
    Address target = target(address);
    if (target.isUnix()) {
      return new Route(target, new ClientSecurity().conclude());
    }
    return new Route(target, tls.security(target, false));
  }

  private Address target(Address address) {
    if (address.isUnix() || !tls.findsToken(address)) {
      return address;
    }
    return LocalCoordinators.ofThisUser()
        .find(address.port())
        .flatMap(LocalCoordinators.Local::connectableSocket)
        .map(Address::unix)
        .orElse(address);
  }
}
