package dev.weft.worker;

import dev.weft.v1.WorkerMessage;
import dev.weft.wire.Transport;

/**
 * The worker's end of a channel to the coordinator, whatever carries it. {@link #send} keeps
 * message order; it may wait briefly for room (back-pressure) but never for the coordinator.
 */
interface CoordinatorLink {

  /** Sends a message; dropped once the link is closed. */
  void send(WorkerMessage message);

  Transport transport();

  /** Where the link leads, for log lines: the coordinator's address when it has one. */
  default String peer() {
    return transport().toString();
  }

  /** Ends the link cleanly. Idempotent. */
  void close();

  /** Abandons the link without ceremony (the coordinator went silent). */
  default void abort(String reason) {
    close();
  }
}
