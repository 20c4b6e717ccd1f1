package dev.weft.coordinator;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.wire.Transport;

/**
 * The coordinator's end of the channel to one worker, whatever carries it (a gRPC stream, pipes,
 * shared memory). The scheduler sees only this.
 *
 * <p>{@link #send} never blocks and keeps the order of messages (a cancel must never overtake the
 * assignment it cancels): it hands the message to the link's own outbox, which the link's writer
 * drains. A link whose outbox is full says so through {@link #isWritable}; it is then given no new
 * tasks (control messages still queue), and it calls the {@link #whenWritable} action once it has
 * room again. Every method may be called from any thread.
 */
interface WorkerLink {

  /** Queues a message for the worker; silently dropped once the link is closed. */
  void send(CoordinatorMessage message);

  /** False while the worker is not taking what was sent (its outbox is full). */
  boolean isWritable();

  /** Sets what runs (on the link's own thread) when the link has room again after being full. */
  void whenWritable(Runnable action);

  Transport transport();

  /** Closes the link; the worker is told why when the transport allows it. Idempotent. */
  void close(String reason);

  /**
   * The worker is gone (detached, lost, replaced): release what the transport holds for it, such as
   * a shared-memory segment. Idempotent.
   */
  default void release() {}

  /** Closes the link because the worker broke the protocol, or may no longer stay. */
  void refuse(io.grpc.Status status);

  /**
   * Whether the credentials the worker attached with have been revoked since (a join token rotated
   * with --detach-workers): then it must go. Cheap enough to ask on every lease check.
   */
  default boolean revoked() {
    return false;
  }
}
