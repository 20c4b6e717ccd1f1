package dev.weft.worker;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** A coordinator's {@code HOST:PORT}; IPv6 hosts are written in brackets, {@code [::1]:7070}. */
public record CoordinatorAddress(String host, int port) {
  public CoordinatorAddress {
    Objects.requireNonNull(host, "host");
  }

  /** Parses {@code HOST:PORT}. */
  public static CoordinatorAddress parse(String hostPort) {
    Objects.requireNonNull(hostPort, "hostPort");
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException(
          "coordinator address must be HOST:PORT, e.g. 127.0.0.1:7070, got '" + hostPort + "'");
    }
    String host = hostPort.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "coordinator port must be a number 1..65535, got '" + hostPort.substring(colon + 1) + "'",
          e);
    }
    if (port < 1 || port > 65_535) {
      throw new IllegalArgumentException("coordinator port must be 1..65535, got " + port);
    }
    return new CoordinatorAddress(host, port);
  }

  /** Parses {@code HOST:PORT[,HOST:PORT...]}: coordinators that share one journal. */
  public static List<CoordinatorAddress> parseList(String hostPorts) {
    List<CoordinatorAddress> addresses = new ArrayList<>();
    for (String one : hostPorts.split(",", -1)) {
      if (one.isBlank()) {
        throw new IllegalArgumentException(
            "'" + hostPorts + "' has an empty address; separate HOST:PORT addresses with commas");
      }
      CoordinatorAddress address = parse(one.strip());
      if (addresses.contains(address)) {
        throw new IllegalArgumentException("'" + hostPorts + "' names " + address + " twice");
      }
      addresses.add(address);
    }
    return List.copyOf(addresses);
  }

  @Override
  public String toString() {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
