package dev.weft.coordinator;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a PostgreSQL journal lives, from {@code postgresql://HOST[:PORT]/DB?user=NAME}. The
 * password never comes in the URL: a URL shows in {@code ps}, in shell history and in logs, so one
 * that carries a password is refused; it is given apart (see {@link
 * CoordinatorConfig#postgresJournal}).
 */
public record PostgresTarget(String host, int port, String database, String user, String sslMode) {
  public static final String FORM = "postgresql://HOST[:PORT]/DB?user=NAME[&sslmode=MODE]";
  public static final int DEFAULT_PORT = 5432;
  private static final List<String> SSL_MODES =
      List.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

  /** Parses {@code url}; a bad one throws, naming the accepted form. */
  public static PostgresTarget parse(String url) {
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      throw bad(url, e.getReason());
    }
    if (!"postgresql".equals(uri.getScheme()) || uri.isOpaque()) {
      throw bad(url, "it must start with postgresql://");
    }
    if (uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException(
          "--journal: the URL must not carry a user or password before the host (a URL shows in"
              + " ps and shell history); name the user with ?user=NAME and give the password in"
              + " WEFT_JOURNAL_PASSWORD or --journal-password-file FILE");
    }
    String host = uri.getHost();
    if (host == null || host.isEmpty()) {
      throw bad(url, "it names no host");
    }
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port = uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort();
    if (port == 0) {
      throw bad(url, "port 0 is not a port to connect to");
    }
    String path = uri.getPath();
    if (path == null || path.length() < 2 || path.indexOf('/', 1) >= 0) {
      throw bad(url, "it names no database (one path segment: /DB)");
    }
    if (uri.getFragment() != null) {
      throw bad(url, "it has a #fragment");
    }
    Map<String, String> params = query(url, uri.getRawQuery());
    if (params.containsKey("password")) {
      throw new IllegalArgumentException(
          "--journal: the URL must not carry a password (a URL shows in ps and shell history);"
              + " give it in WEFT_JOURNAL_PASSWORD or --journal-password-file FILE");
    }
    for (String name : params.keySet()) {
      if (!name.equals("user") && !name.equals("sslmode")) {
        throw bad(url, "it has parameter '" + name + "'; only user and sslmode are taken");
      }
    }
    String user = params.get("user");
    if (user == null || user.isEmpty()) {
      throw bad(url, "it names no user (?user=NAME)");
    }
    String sslMode = params.get("sslmode");
    if (sslMode != null && !SSL_MODES.contains(sslMode)) {
      throw bad(url, "sslmode '" + sslMode + "' is none of " + String.join(", ", SSL_MODES));
    }
    return new PostgresTarget(host, port, path.substring(1), user, sslMode);
  }

  private static Map<String, String> query(String url, String raw) {
    Map<String, String> params = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return params;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw bad(url, "its query has '" + pair + "', not NAME=VALUE");
      }
      String name = URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8);
      String value = URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      if (params.put(name, value) != null) {
        throw bad(url, "it gives '" + name + "' twice");
      }
    }
    return params;
  }

  private static IllegalArgumentException bad(String url, String why) {
    return new IllegalArgumentException(
        "--journal: cannot use '" + url + "' (" + why + "); expected sqlite or " + FORM);
  }

  /** The JDBC URL, without credentials (the driver takes them as properties). */
  String jdbcUrl() {
    String h = host.contains(":") ? "[" + host + "]" : host;
    return "jdbc:postgresql://"
        + h
        + ":"
        + port
        + "/"
        + URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20")
        + (sslMode == null ? "" : "?sslmode=" + sslMode);
  }

  /** The URL as a user gave it (it never holds a password), for messages and logs. */
  @Override
  public String toString() {
    String h = host.contains(":") ? "[" + host + "]" : host;
    return "postgresql://"
        + h
        + ":"
        + port
        + "/"
        + database
        + "?user="
        + user
        + (sslMode == null ? "" : "&sslmode=" + sslMode);
  }
}
