package dev.weft.kinds;

import com.google.common.util.concurrent.Uninterruptibles;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Waiting for processes to be gone, where the kernel offers no event to wait on: polls from fast (a
 * killed process is usually gone within a millisecond) to cheap.
 */
final class Polls {
  private static final long MIN_POLL_NS = TimeUnit.MICROSECONDS.toNanos(200);
  private static final long MAX_POLL_NS = TimeUnit.MILLISECONDS.toNanos(20);

  private Polls() {}

  /**
   * Waits until {@code stillThere} is false or {@code deadlineNanos} passes; false if it did. Not
   * cut short by an interrupt (the interrupt status is kept): it waits for a kill to take effect.
   */
  static boolean awaitGone(BooleanSupplier stillThere, long deadlineNanos) {
    long pause = MIN_POLL_NS;
    while (stillThere.getAsBoolean()) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      Uninterruptibles.sleepUninterruptibly(Math.min(pause, left), TimeUnit.NANOSECONDS);
      pause = Math.min(2 * pause, MAX_POLL_NS);
    }
    return true;
  }
}
