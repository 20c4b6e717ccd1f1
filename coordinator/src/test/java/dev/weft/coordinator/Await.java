package dev.weft.coordinator;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Waiting in the coordinator's tests: on a condition, with a deadline, never a bare sleep. */
final class Await {
  private static final long POLL_NS = TimeUnit.MILLISECONDS.toNanos(2);

  private Await() {}

  /**
   * Returns once {@code condition} holds; fails naming {@code what} when {@code timeout} passes.
   */
  static void until(BooleanSupplier condition, String what, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out waiting for " + what);
      }
      LockSupport.parkNanos(POLL_NS);
    }
  }
}
