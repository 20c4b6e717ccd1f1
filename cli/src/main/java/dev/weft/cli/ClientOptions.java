package dev.weft.cli;

import dev.weft.coordinator.security.LocalCoordinators;
import dev.weft.security.ClientSecurity;
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
      paramLabel = "HOST:PORT|unix:PATH",
      defaultValue = "${env:WEFT_COORDINATOR:-" + Address.DEFAULT + "}",
      converter = Address.ClientConverter.class,
      description =
          "The coordinator to talk to: its port, or its Unix socket, where it knows you by your"
              + " uid and needs no token (default: $WEFT_COORDINATOR, else "
              + Address.DEFAULT
              + ").")
  Address coordinator;

  @Mixin TlsClientOptions tls;

  CoordinatorClient connect() {
    // A client reports every failure itself, on one line; gRPC's own warnings (with stack traces,
    // e.g. for a host name that does not resolve) would only repeat it.
    GRPC_LOG.setLevel(Level.SEVERE);
    Address target = target();
    if (target.isUnix()) {
      return new CoordinatorClient(target, null);
    }
    ClientSecurity security = tls.security(coordinator, false);
    if (security == null) {
      throw TlsClientOptions.noToken(coordinator, false);
    }
    return new CoordinatorClient(target, security);
  }

  /**
   * Where to connect: {@link #coordinator}, except that a loopback port given no token, served by
   * this user's coordinator with a Unix socket this user may connect to (its registry says so), is
   * reached through that socket: the kernel vouches for us there, no token needed. Otherwise the
   * port, with the admin token the registry leads to (see {@link TlsClientOptions}).
   */
  Address target() {
    if (!tls.findsToken(coordinator)) {
      return coordinator;
    }
    return LocalCoordinators.ofThisUser()
        .find(coordinator.port())
        .flatMap(LocalCoordinators.Local::connectableSocket)
        .map(Address::unix)
        .orElse(coordinator);
  }
}
