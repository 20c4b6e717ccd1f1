package dev.weft.cli;

import dev.weft.coordinator.security.LocalCoordinators;
import dev.weft.security.ClientSecurity;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * How workers and clients reach a coordinator that uses TLS: its join token (which pins its
 * certificate and proves the caller), or certificates of the user's own.
 */
final class TlsClientOptions {
  @Option(
      names = "--token",
      paramLabel = "TOKEN",
      defaultValue = "${env:WEFT_TOKEN}",
      description =
          "The coordinator's join token (weft1-...): connect over TLS, check the coordinator's"
              + " certificate against it and authenticate with it (default: $WEFT_TOKEN; prefer"
              + " the variable, since other users can see command lines).")
  String token;

  @Option(
      names = "--tls-ca",
      paramLabel = "FILE",
      defaultValue = "${env:WEFT_TLS_CA}",
      description =
          "PEM certificates to check the coordinator's certificate against, for a coordinator"
              + " with certificates of your own (default: $WEFT_TLS_CA).")
  Path caFile;

  @Option(
      names = "--tls-cert",
      paramLabel = "FILE",
      defaultValue = "${env:WEFT_TLS_CERT}",
      description =
          "A PEM client certificate (chain) for a coordinator that requires one (default:"
              + " $WEFT_TLS_CERT).")
  Path certFile;

  @Option(
      names = "--tls-key",
      paramLabel = "FILE",
      defaultValue = "${env:WEFT_TLS_KEY}",
      description = "The PEM private key of --tls-cert (default: $WEFT_TLS_KEY).")
  Path keyFile;

  @Option(
      names = "--tls-server-name",
      paramLabel = "NAME",
      defaultValue = "${env:WEFT_TLS_SERVER_NAME}",
      description =
          "The name to check in the coordinator's certificate, when it differs from the host"
              + " you connect to.")
  String serverName;

  /** The settings, read and checked; a bad token or file is a usage error naming the option. */
  ClientSecurity security() {
    return security(token);
  }

  /**
   * As {@link #security()}, but with no token or CA given and {@code target} on loopback, the token
   * of this user's coordinator serving that port, found through its registry (see {@link
   * LocalCoordinators}): the admin token for a client, the join token for a worker. The token pins
   * the coordinator's certificate, so a process that took the port first gets nothing.
   */
  ClientSecurity security(Address target, boolean worker) {
    if (findsToken(target)) {
      java.util.Optional<String> found =
          LocalCoordinators.ofThisUser()
              .find(target.port())
              .flatMap(local -> worker ? local.joinToken() : local.adminToken());
      if (found.isPresent()) {
        return security(found.get());
      }
    }
    return security();
  }

  /** Whether {@link #security(Address, boolean)} looks the token up: none given, on loopback. */
  boolean findsToken(Address target) {
    return (token == null || token.isBlank()) && caFile == null && target.isLoopback();
  }

  private ClientSecurity security(String chosenToken) {
    try {
      return new ClientSecurity()
          .token(chosenToken)
          .caFile(caFile)
          .certFile(certFile)
          .keyFile(keyFile)
          .serverName(serverName)
          .conclude();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }
}
