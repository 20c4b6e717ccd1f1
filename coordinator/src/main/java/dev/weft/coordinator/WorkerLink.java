package dev.weft.coordinator;

import dev.weft.v1.CoordinatorMessage;

/**
 * The coordinator's end of the channel to one worker, whatever carries it (a gRPC stream, pipes,
 * shared memory). The scheduler sees only this.
 *
 * <p>{@link #send} must not block and must keep the order of messages: the scheduler calls it while
 * holding its lock, and a cancel must never overtake the assignment it cancels.
 */
interface WorkerLink {

  /** Queues a message for the worker; silently dropped once the link is closed. */
  void send(CoordinatorMessage message);

  /** "grpc", "pipe" or "shm". */
  String transport();

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
