package dev.weft.cli;

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
      paramLabel = "HOST:PORT",
      defaultValue = "${env:WEFT_COORDINATOR:-" + Address.DEFAULT + "}",
      converter = Address.Converter.class,
      description =
          "The coordinator to talk to (default: $WEFT_COORDINATOR, else " + Address.DEFAULT + ").")
  Address coordinator;

  @Mixin TlsClientOptions tls;

  CoordinatorClient connect() {
    // A client reports every failure itself, on one line; gRPC's own warnings (with stack traces,
    // e.g. for a host name that does not resolve) would only repeat it.
    GRPC_LOG.setLevel(Level.SEVERE);
    return new CoordinatorClient(coordinator, tls.security(coordinator, false));
  }
}
