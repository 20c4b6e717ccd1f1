package dev.weft.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** A {@code HOST:PORT} pair; IPv6 hosts are written in brackets, {@code [::1]:7070}. */
record Address(String host, int port) {
  static final String DEFAULT = "127.0.0.1:7070";

  /**
   * Parses {@code HOST:PORT}; port 0 only when {@code allowAnyPort} (a server may ask for a free
   * one).
   */
  static Address parse(String text, boolean allowAnyPort) {
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
  boolean isLoopback() {
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
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }

  /** For client options: the coordinator's address. */
  static final class Converter implements ITypeConverter<Address> {
    @Override
    public Address convert(String value) {
      try {
        return parse(value, false);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  /** For server options: port 0 picks a free port. */
  static final class ListenConverter implements ITypeConverter<Address> {
    @Override
    public Address convert(String value) {
      try {
        return parse(value, true);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}
