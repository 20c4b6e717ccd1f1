package dev.weft.client;

import dev.weft.security.ClientSecurity;
import dev.weft.wire.Address;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;

/**
 * How the client proves who it is and checks the coordinator: a token (which also pins the
 * coordinator's certificate authority), a CA file for a coordinator with certificates of its own, a
 * client certificate, or nothing at all for this user's own coordinator on this host, found through
 * the registry it keeps. Immutable; the {@code with...} methods return a copy.
 *
 * <p>Without a token or CA file, a loopback address ({@code 127.0.0.1:PORT}, {@code
 * localhost:PORT}) is looked up in this user's registry: the coordinator serving that port is
 * reached through its Unix socket when this user may connect to it, else with its admin token. With
 * nothing found, nothing is sent: the client never talks plain text unless told ({@link
 * #insecure()}), since a process that took the port would get the job.
 */
public final class Credentials {
  private final String token;
  private final Path caFile;
  private final Path certFile;
  private final Path keyFile;
  private final String serverName;
  private final boolean insecure;

  private Credentials(
      String token, Path caFile, Path certFile, Path keyFile, String serverName, boolean insecure) {
    this.token = token == null || token.isBlank() ? null : token.strip();
    this.caFile = caFile;
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.serverName = serverName == null || serverName.isBlank() ? null : serverName.strip();
    this.insecure = insecure;
    if (insecure
        && (this.token != null || caFile != null || certFile != null || serverName != null)) {
      throw new IllegalArgumentException(
          "insecure credentials talk plain text: they cannot go with a token, a CA file, a client"
              + " certificate or a server name");
    }
    // Reads the files and parses the token now, so a bad setting fails at connect, not per call.
    security(this.token);
  }

  /**
   * As the {@code weft} command finds them: {@code $WEFT_TOKEN}, {@code $WEFT_TLS_CA}, {@code
   * $WEFT_TLS_CERT} and {@code $WEFT_TLS_KEY}, {@code $WEFT_TLS_SERVER_NAME}, else the config
   * file's {@code token}, {@code tls-ca}, {@code tls-cert}, {@code tls-key}, {@code
   * tls-server-name} and {@code insecure} keys ({@code $WEFT_CONFIG}, else {@code
   * ~/.config/weft/weft.properties}); with none of a token, a CA file or {@code insecure}, this
   * user's coordinators on this host are found through their registry.
   *
   * @throws IllegalArgumentException when a named file is missing or unreadable, or the token is
   *     damaged
   */
  public static Credentials found() {
    return found(System.getenv(), System.getProperties());
  }

  static Credentials found(Map<String, String> env, Properties system) {
    Properties file = ConfigFile.read(env, system);
    return new Credentials(
        pick(env, "WEFT_TOKEN", file, "token"),
        path(pick(env, "WEFT_TLS_CA", file, "tls-ca")),
        path(pick(env, "WEFT_TLS_CERT", file, "tls-cert")),
        path(pick(env, "WEFT_TLS_KEY", file, "tls-key")),
        pick(env, "WEFT_TLS_SERVER_NAME", file, "tls-server-name"),
        Boolean.parseBoolean(file.getProperty("insecure", "false").strip()));
  }

  /**
   * The coordinator's address as the {@code weft} command finds it; see {@link
   * WeftClient#connect()}.
   */
  static String foundAddress(Map<String, String> env, Properties system) {
    String address = pick(env, "WEFT_COORDINATOR", ConfigFile.read(env, system), "coordinator");
    return address == null ? Address.DEFAULT : address;
  }

  private static String pick(
      Map<String, String> env, String variable, Properties file, String key) {
    String value = env.get(variable);
    if (value != null && !value.isBlank()) {
      return value;
    }
    value = file.getProperty(key);
    return value == null || value.isBlank() ? null : value.strip();
  }

  private static Path path(String value) {
    return value == null ? null : Path.of(value);
  }

  /**
   * Nothing but this user's own coordinators on this host, found through their registry (and any
   * {@code unix:PATH} socket this user may connect to).
   */
  public static Credentials localUser() {
    return new Credentials(null, null, null, null, null, false);
  }

  /**
   * A client token ({@code weft1-...}, from {@code weft token create NAME --role submit} on the
   * coordinator's host): TLS, the coordinator's certificate checked against the token's pin, the
   * token's secret on every call.
   *
   * @throws IllegalArgumentException when the token is damaged (the message never repeats it)
   */
  public static Credentials token(String token) {
    Objects.requireNonNull(token, "token");
    return new Credentials(token, null, null, null, null, false);
  }

  /**
   * TLS checked against the PEM certificates in {@code caFile}, for a coordinator with certificates
   * of its own; add a client certificate or a token for it to know the caller.
   */
  public static Credentials caFile(Path caFile) {
    Objects.requireNonNull(caFile, "caFile");
    return new Credentials(null, caFile, null, null, null, false);
  }

  /** Plain text and no token, for a coordinator started with {@code --insecure}. */
  public static Credentials insecure() {
    return new Credentials(null, null, null, null, null, true);
  }

  /** A copy that also checks the coordinator's certificate against {@code caFile}. */
  public Credentials withCaFile(Path caFile) {
    return new Credentials(token, caFile, certFile, keyFile, serverName, insecure);
  }

  /** A copy that presents a client certificate (chain) and its private key, both PEM files. */
  public Credentials withClientCertificate(Path certFile, Path keyFile) {
    Objects.requireNonNull(certFile, "certFile");
    Objects.requireNonNull(keyFile, "keyFile");
    return new Credentials(token, caFile, certFile, keyFile, serverName, insecure);
  }

  /** A copy that checks {@code name} in the coordinator's certificate instead of the host. */
  public Credentials withServerName(String name) {
    return new Credentials(token, caFile, certFile, keyFile, name, insecure);
  }

  /** Says which settings are given, never the token's secret. */
  @Override
  public String toString() {
    if (insecure) {
      return "Credentials[insecure]";
    }
    StringBuilder out = new StringBuilder("Credentials[");
    out.append(token != null ? "token" : "no token");
    if (caFile != null) {
      out.append(", ca ").append(caFile);
    }
    if (certFile != null) {
      out.append(", cert ").append(certFile);
    }
    if (serverName != null) {
      out.append(", server name ").append(serverName);
    }
    if (findsToken()) {
      out.append(", this user's coordinators found");
    }
    return out.append(']').toString();
  }

  /** Whether a loopback address is looked up in the registry: no token, CA or insecure given. */
  boolean findsToken() {
    return token == null && caFile == null && !insecure;
  }

  /**
   * How to reach {@code address} now: the address itself, except that a loopback port served by
   * this user's coordinator with a Unix socket this user may connect to (the registry says so) is
   * reached through that socket, where the kernel vouches for us. Otherwise the port, with the
   * admin token the registry leads to; with no security (nothing is sent) when there is none.
   */
  Route route(Address address, LocalRegistry registry) {
    if (address.isUnix()) {
      return new Route(address, Route.plainText());
    }
    Optional<LocalRegistry.Local> local =
        findsToken() && address.isLoopback() ? registry.find(address.port()) : Optional.empty();
    Optional<java.nio.file.Path> socket = local.flatMap(LocalRegistry.Local::connectableSocket);
    if (socket.isPresent()) {
      return new Route(Address.unix(socket.get()), Route.plainText());
    }
    Optional<String> admin = local.flatMap(LocalRegistry.Local::adminToken);
    if (admin.isPresent()) {
      return new Route(address, security(admin.get()));
    }
    if (insecure) {
      return new Route(address, security(null));
    }
    return new Route(address, token == null && caFile == null ? null : security(token));
  }

  private ClientSecurity security(String chosenToken) {
    return new ClientSecurity()
        .token(chosenToken)
        .caFile(caFile)
        .certFile(certFile)
        .keyFile(keyFile)
        .serverName(serverName)
        .conclude();
  }
}
