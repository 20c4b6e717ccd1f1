package dev.weft.wire;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What carries a link between the coordinator and one worker. The same protobuf messages travel on
 * each; only the way bytes move differs. Its {@link #wireName} is what hellos, {@code WorkerInfo},
 * options and the JSON output say.
 */
public enum Transport {
  /** A gRPC bidirectional stream ({@code WorkerService.Attach}), over TCP or a Unix socket. */
  GRPC,
  /** Length-delimited frames over the stdin/stdout pipes of a worker the coordinator spawned. */
  PIPE,
  /** The shared-memory upgrade: frame rings in a /dev/shm segment beside a control link. */
  SHM;

  /** The lower-case name used on the wire and on the command line. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The transport named {@code name} (as {@link #wireName} spells it).
   *
   * @throws IllegalArgumentException naming the allowed values
   */
  public static Transport ofWireName(String name) {
    for (Transport transport : values()) {
      if (transport.wireName().equals(name)) {
        return transport;
      }
    }
    throw new IllegalArgumentException(
        "unknown transport '"
            + name
            + "' (expected one of "
            + Arrays.stream(values()).map(Transport::wireName).collect(Collectors.joining(", "))
            + ")");
  }

  @Override
  public String toString() {
    return wireName();
  }
}
