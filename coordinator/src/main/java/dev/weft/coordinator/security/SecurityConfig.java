package dev.weft.coordinator.security;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * How a coordinator protects its port. Secure mode (TLS, and a token or client certificates for
 * every call but health checks) is the default on every address, loopback too: there any local user
 * could otherwise run commands as the workers' user. Plain text takes {@link #insecure}. Fluent
 * setters; {@link #conclude} checks the combination for a listen address.
 */
public final class SecurityConfig {
  /** {@code --tls}: AUTO and ON are TLS with tokens on every address; OFF needs --insecure. */
  public enum Tls {
    AUTO,
    ON,
    OFF
  }

  private Tls tls = Tls.AUTO;
  private boolean insecure;
  private Path certFile;
  private Path keyFile;
  private Path clientCaFile;
  private boolean tokenRequired = true;
  private List<String> extraNames = List.of();
  private boolean secure;
  private boolean loopback;

  public SecurityConfig tls(Tls value) {
    this.tls = Objects.requireNonNull(value, "tls");
    return this;
  }

  /** Serve plain text, without authentication, also beyond loopback. */
  public SecurityConfig insecure(boolean value) {
    this.insecure = value;
    return this;
  }

  /** A certificate chain (leaf first) and its key to serve instead of the coordinator's own. */
  public SecurityConfig certificate(Path chain, Path key) {
    this.certFile = chain;
    this.keyFile = key;
    return this;
  }

  /** Clients must present a certificate issued by one of these (mutual TLS); null for none. */
  public SecurityConfig clientCa(Path value) {
    this.clientCaFile = value;
    return this;
  }

  /** Whether calls must carry the join token's secret (default true). */
  public SecurityConfig tokenRequired(boolean value) {
    this.tokenRequired = value;
    return this;
  }

  /** More DNS names or IP addresses for the certificate the coordinator makes itself. */
  public SecurityConfig extraNames(List<String> value) {
    this.extraNames = List.copyOf(value);
    return this;
  }

  /** Checks the options against each other and decides the mode for {@code host}. */
  public SecurityConfig conclude(String host) {
    if ((certFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException(
          "--tls-cert and --tls-key go together: the certificate chain and its private key");
    }
    boolean tlsOptions =
        certFile != null || clientCaFile != null || !extraNames.isEmpty() || !tokenRequired;
    if (insecure && tls == Tls.ON) {
      throw new IllegalArgumentException("--insecure (plain text) contradicts --tls on");
    }
    if ((insecure || tls == Tls.OFF) && tlsOptions) {
      throw new IllegalArgumentException(
          (insecure ? "--insecure" : "--tls off")
              + " serves plain text; it cannot go with --tls-cert, --tls-key, --tls-client-ca,"
              + " --tls-san or --no-token");
    }
    if (!tokenRequired && clientCaFile == null) {
      throw new IllegalArgumentException(
          "--no-token needs --tls-client-ca: without a join token or client certificates, anyone"
              + " who reaches the port could run any command on every worker");
    }
    if (!extraNames.isEmpty() && certFile != null) {
      throw new IllegalArgumentException(
          "--tls-san adds names to the certificate the coordinator makes itself; with --tls-cert,"
              + " put the names in that certificate");
    }
    for (String name : extraNames) {
      SubjectNames.checkName(name);
    }
    loopback = isLoopback(host);
    boolean plain = insecure || tls == Tls.OFF;
    if (plain && !insecure) {
      throw new IllegalArgumentException(
          "refusing to serve plain text on "
              + host
              + (loopback
                  ? ": on loopback every local user (and every container sharing this host's"
                      + " network) could run any command on every worker"
                  : ", beyond loopback: anyone who reaches the port could run any command on every"
                      + " worker")
              + "; leave TLS on (the default), or add --insecure if that is meant");
    }
    secure = !plain;
    return this;
  }

  /** Whether {@code host} is a loopback address (127.0.0.0/8, ::1, or a name for one). */
  public static boolean isLoopback(String host) {
    String bare =
        host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    try {
      return InetAddress.getByName(bare).isLoopbackAddress();
    } catch (UnknownHostException e) {
      // It cannot be bound either; the bind reports that. Unknown is not loopback.
      return false;
    }
  }

  /** TLS and authentication on: decided by {@link #conclude}. */
  public boolean secure() {
    return secure;
  }

  /** Whether the listen address is loopback: decided by {@link #conclude}. */
  public boolean loopback() {
    return loopback;
  }

  public boolean insecure() {
    return insecure;
  }

  public Path certFile() {
    return certFile;
  }

  public Path keyFile() {
    return keyFile;
  }

  public Path clientCaFile() {
    return clientCaFile;
  }

  public boolean tokenRequired() {
    return tokenRequired;
  }

  public List<String> extraNames() {
    return extraNames;
  }
}
