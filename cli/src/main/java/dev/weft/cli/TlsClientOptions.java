package dev.weft.cli;

import dev.weft.coordinator.security.LocalCoordinators;
import dev.weft.security.ClientSecurity;
import dev.weft.wire.Address;
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

  @Option(
      names = "--insecure",
      description =
          "Talk plain text, with no token, to a coordinator started with --insecure. Without it,"
              + " weft talks to a coordinator only over TLS with a token: whoever holds the port"
              + " gets nothing from it.")
  boolean insecure;

  /** The settings, read and checked; a bad token or file is a usage error naming the option. */
  ClientSecurity security() {
    return security(token);
  }

  /**
   * As {@link #security()}, but with no token or CA given and {@code target} on loopback, the token
   * of this user's coordinator serving that port, found through its registry (see {@link
   * LocalCoordinators}): the admin token for a client, the join token for a worker. The token pins
   * the coordinator's certificate, so a process that took the port first gets nothing.
   *
   * <p>Null when there is nothing to talk with (no token given or found, no CA, no --insecure):
   * weft never falls back to plain text, in which a process holding the port would get the job, or
   * hand a worker commands.
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
    if (insecure) {
      if (!blank(token) || caFile != null || certFile != null || serverName != null) {
        throw CliException.usage(
            "--insecure talks plain text: it cannot go with --token, --tls-ca, --tls-cert or"
                + " --tls-server-name");
      }
      return security(null);
    }
    return blank(token) && caFile == null ? null : security();
  }

  /**
   * Why there is nothing to talk to {@code target} with, and what to do: on loopback most likely no
   * coordinator runs (exit 3, as for a refused connection), elsewhere a token is missing.
   */
  static CliException noToken(Address target, boolean worker) {
    String why =
        "weft talks to a coordinator only over TLS with a token, so that whoever holds the port"
            + " gets nothing; pass "
            + (worker
                ? "the join token (`weft token show` on its host)"
                : "a client token (`weft token create NAME --role submit` on its host)")
            + " with --token or WEFT_TOKEN, or --insecure for a coordinator started with"
            + " --insecure";
    if (target.isLoopback()) {
      return new CliException(
          ExitCodes.UNREACHABLE,
          "no coordinator of this user serves "
              + target
              + ": start one with 'weft coordinator'; for another user's, "
              + why.substring(why.indexOf("pass ")));
    }
    return CliException.usage("no token for the coordinator at " + target + ": " + why);
  }

  /** Whether {@link #security(Address, boolean)} looks the token up: none given, on loopback. */
  boolean findsToken(Address target) {
    return blank(token) && caFile == null && !insecure && target.isLoopback();
  }

  private static boolean blank(String text) {
    return text == null || text.isBlank();
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
