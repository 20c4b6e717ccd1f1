package dev.weft.worker;

import dev.weft.v1.WorkerMessage;

/**
 * The worker's end of its channel to the coordinator, whatever carries it. {@link #send} must not
 * block and must keep message order.
 */
interface CoordinatorLink {

  /** Queues a message for the coordinator; dropped once the link is closed. */
  void send(WorkerMessage message);

  /** Ends the link cleanly (after a goodbye). Idempotent. */
  void close();
}
