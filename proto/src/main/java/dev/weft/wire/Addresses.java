package dev.weft.wire;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * One coordinator's address, or several separated by commas ({@code a:7070,b:7070}): coordinators
 * that share one journal, of which one leads and the others stand by. A {@code unix:PATH} socket
 * stands alone: it is one coordinator's, on this host.
 */
public record Addresses(List<Address> all) {
  public Addresses {
    if (all.isEmpty()) {
      throw new IllegalArgumentException("no coordinator address");
    }
    all = List.copyOf(all);
  }

  /** One address alone. */
  public static Addresses of(Address address) {
    return new Addresses(List.of(address));
  }

  /** The first address: the one tried first. */
  public Address first() {
    return all.getFirst();
  }

  /** Whether several addresses were given: coordinators of which one leads. */
  public boolean isList() {
    return all.size() > 1;
  }

  /**
   * Parses a comma-separated list; each item as {@link Address#parseClient} ({@code client}) or
   * {@link Address#parse} reads it.
   */
  public static Addresses parse(String text, boolean client) {
    String[] items = text.split(",", -1);
    List<Address> all = new ArrayList<>();
    for (String item : items) {
      String one = item.strip();
      if (one.isEmpty()) {
        throw new IllegalArgumentException(
            "'" + text + "' has an empty address; separate HOST:PORT addresses with commas");
      }
      Address address = client ? Address.parseClient(one) : Address.parse(one, false);
      if (address.isUnix() && items.length > 1) {
        throw new IllegalArgumentException(
            "'"
                + text
                + "': a unix: socket is one coordinator's on this host and cannot be in a list;"
                + " list HOST:PORT addresses, or give the socket alone");
      }
      if (all.contains(address)) {
        throw new IllegalArgumentException("'" + text + "' names " + address + " twice");
      }
      all.add(address);
    }
    return new Addresses(all);
  }

  @Override
  public String toString() {
    return all.stream().map(Address::toString).collect(Collectors.joining(","));
  }
}
