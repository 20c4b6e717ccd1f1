package dev.weft.worker;

import dev.weft.v1.Hello;

/** What runs a worker's sessions (the attach loop, the stdio session) needs from the worker. */
interface SessionHost {

  /**
   * A new session over {@code control}, made the worker's current one; null when the worker is
   * stopping or draining and must not attach again.
   */
  CoordinatorSession open(CoordinatorLink control);

  /** The session ended: whatever it was running has been requeued by the coordinator. */
  void closed(CoordinatorSession session);

  /** What the worker says of itself when it attaches. */
  Hello hello();

  /** Waits before the next attach; false when the worker is stopping (or interrupted). */
  boolean pause(long waitMs);

  /** The coordinator refused this worker in a way another attempt cannot mend: stop. */
  void refusedForGood(String why);

  /** Stops the worker from a thread of its own (the link is gone for good). */
  void stop();
}
