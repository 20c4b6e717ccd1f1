package dev.weft.cli;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition with a deadline, polling; the only place these tests pause. */
final class Await {
  private static final long POLL_MS = 20;

  private Await() {}

  static void until(String what, Duration timeout, BooleanSupplier condition)
      throws InterruptedException {
    until(what, timeout, condition, () -> "");
  }

  /** Fails with {@code what} and the {@code diagnostics} when the deadline passes first. */
  static void until(
      String what, Duration timeout, BooleanSupplier condition, Supplier<String> diagnostics)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(
            "timed out after "
                + timeout.toMillis()
                + " ms waiting for "
                + what
                + "\n"
                + diagnostics.get());
      }
      // A short pause between checks of the condition; the deadline above bounds the wait.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(POLL_MS));
      if (Thread.interrupted()) {
        throw new InterruptedException("interrupted waiting for " + what);
      }
    }
  }
}
