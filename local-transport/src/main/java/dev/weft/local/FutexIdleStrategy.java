package dev.weft.local;

import org.agrona.concurrent.IdleStrategy;

/**
 * Spin, then yield, then sleep on the ring's futex word: a frame that arrives within a few
 * microseconds is picked up without a syscall on either side, and an idle link costs one short
 * wake-up per park timeout. The park always has a timeout so the caller gets control back to check
 * heartbeats, interrupts and shutdown.
 *
 * <p>Bound to one {@link FrameReceiver}; like the receiver, used by one thread.
 */
final class FutexIdleStrategy implements IdleStrategy {
  private static final int NOT_IDLE = 0;
  private static final int SPINNING = 1;
  private static final int YIELDING = 2;
  private static final int PARKING = 3;

  private final FrameReceiver receiver;
  private final long spinNs;
  private final int maxYields;
  private final long parkTimeoutNs;

  private int state = NOT_IDLE;
  private long spinStartNs;
  private int yields;

  FutexIdleStrategy(FrameReceiver receiver, long spinNs, int maxYields, long parkTimeoutNs) {
    this.receiver = receiver;
    this.spinNs = spinNs;
    this.maxYields = maxYields;
    this.parkTimeoutNs = parkTimeoutNs;
  }

  @Override
  public void idle(int workCount) {
    if (workCount > 0) {
      reset();
    } else {
      idle();
    }
  }

  @Override
  public void idle() {
    idle(parkTimeoutNs);
  }

  /** One idle step; a park lasts at most {@code maxParkNs} (and at most the park timeout). */
  void idle(long maxParkNs) {
    switch (state) {
      case NOT_IDLE -> {
        state = SPINNING;
        spinStartNs = System.nanoTime();
        Thread.onSpinWait();
      }
      case SPINNING -> {
        Thread.onSpinWait();
        if (System.nanoTime() - spinStartNs >= spinNs) {
          state = YIELDING;
          yields = 0;
        }
      }
      case YIELDING -> {
        if (++yields > maxYields) {
          state = PARKING;
        } else {
          Thread.yield();
        }
      }
      default -> receiver.park(Math.min(parkTimeoutNs, maxParkNs));
    }
  }

  @Override
  public void reset() {
    state = NOT_IDLE;
  }

  @Override
  public String alias() {
    return "futex";
  }
}
