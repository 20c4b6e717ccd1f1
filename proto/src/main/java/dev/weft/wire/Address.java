package dev.weft.wire;

import java.nio.file.Path;

/**
 * A {@code HOST:PORT} pair; IPv6 hosts are written in brackets, {@code [::1]:7070}. For clients, a
 * coordinator's Unix socket too, {@code unix:PATH}: then {@link #socket} is its path (and host and
 * port mean nothing). One parser for every weft program: the {@code weft} command (its listen and
 * coordinator addresses) and the Java client.
 */
public record Address(String host, int port, Path socket) {
  /** Where a coordinator listens, and clients look, unless told otherwise. */
  public static final String DEFAULT = "127.0.0.1:7070";

  /** The prefix of a Unix socket's address. */
  public static final String UNIX = "unix:";

  /** A TCP address. */
  public Address(String host, int port) {
    this(host, port, null);
  }

  /** A coordinator's Unix socket. */
  public static Address unix(Path socket) {
    return new Address("localhost", 0, socket);
  }

  /** Whether this is a Unix socket's address. */
  public boolean isUnix() {
    return socket != null;
  }

  /** {@code unix:PATH}, or {@link #parse} with a port 1..65535. */
  public static Address parseClient(String text) {
    if (text.startsWith(UNIX)) {
      String path = text.substring(UNIX.length());
      if (path.isBlank()) {
        throw new IllegalArgumentException(
            "'" + text + "' names no socket (for example unix:/run/weft/coordinator.sock)");
      }
      return unix(Path.of(path));
    }
    return parse(text, false);
  }

  /**
   * Parses {@code HOST:PORT}; port 0 only when {@code allowAnyPort} (a server may ask for a free
   * one).
   */
  public static Address parse(String text, boolean allowAnyPort) {
    int colon = text.lastIndexOf(':');
    if (colon <= 0 || colon == text.length() - 1) {
      throw new IllegalArgumentException(
          "'" + text + "' is not HOST:PORT (for example 127.0.0.1:7070)");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException(
          "'" + text + "': write an IPv6 host in brackets, for example [::1]:7070");
    }
    int min = allowAnyPort ? 0 : 1;
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < min || port > 65_535 || host.isBlank()) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not HOST:PORT with a port "
              + min
              + "..65535 (for example 127.0.0.1:7070)");
    }
    return new Address(host, port);
  }

  /**
   * Whether the host is a loopback address (or {@code localhost}), without a DNS lookup: a name
   * that merely resolves to loopback is not taken for one.
   */
  public boolean isLoopback() {
    if (isUnix()) {
      return false; // not a port: no token to look up for it
    }
    if (host.equals("localhost")) {
      return true;
    }
    if (!host.matches("[0-9.]+|[0-9a-fA-F:]+")) {
      return false;
    }
    try {
      return java.net.InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  @Override
  public String toString() {
    if (isUnix()) {
      return UNIX + socket;
    }
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
