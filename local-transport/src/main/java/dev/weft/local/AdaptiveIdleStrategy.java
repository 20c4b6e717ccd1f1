package dev.weft.local;

import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * Waits for work in phases bounded by time, not by counts: spin, then yield, then park with a
 * doubling period. Counts would make a phase last longer on a slower or busier machine; a yield
 * with a CPU hog beside can take a whole time slice.
 *
 * <p>Adaptive in two ways. The spin and yield phases run only while work was recent (within {@code
 * recentWorkNs} of the last {@code idle(workCount > 0)}): a link that has gone quiet parks at once,
 * so an idle reader costs one wake-up per park period and nothing in between. And a yield that
 * takes longer than the whole yield phase means another thread holds the core (a CPU hog): then
 * yielding only hands it our turn, while a parked thread is run soon after its wake-up, so yields
 * are skipped for a while ({@code 100 * yieldNs}) before they are tried again.
 *
 * <p>Spinning pays only where the spinner does not take the core from the thread it waits for:
 * {@link #spinNsFor(int)} gives no spin below four CPUs.
 *
 * <p>The park is pluggable: a shared-memory reader sleeps on its ring's futex word (the producer
 * ends the sleep), other threads use {@link LockSupport#parkNanos}. Like Agrona's {@code
 * BackoffIdleStrategy}, an instance belongs to one thread.
 */
public final class AdaptiveIdleStrategy implements IdleStrategy {
  /** Spin this long, where spinning is allowed, before yielding. */
  public static final long DEFAULT_SPIN_NS = TimeUnit.MICROSECONDS.toNanos(5);

  /** Yield this long before parking: covers a round trip through a peer on a small machine. */
  public static final long DEFAULT_YIELD_NS = TimeUnit.MICROSECONDS.toNanos(100);

  /** Spin and yield only if the last work was at most this long ago. */
  public static final long DEFAULT_RECENT_WORK_NS = TimeUnit.MILLISECONDS.toNanos(10);

  /** Below this many CPUs a spinner starves the threads it waits for. */
  static final int MIN_CPUS_TO_SPIN = 4;

  /** Sleeps for at most the given nanoseconds; may return early. */
  @FunctionalInterface
  public interface Parker {
    void park(long maxNs);
  }

  private static final long YIELD_PENALTY_FACTOR = 100;

  private static final int NOT_IDLE = 0;
  private static final int SPINNING = 1;
  private static final int YIELDING = 2;
  private static final int PARKING = 3;

  private final long spinNs;
  private final long yieldNs;
  private final long recentWorkNs;
  private final long minParkNs;
  private final long maxParkNs;
  private final Parker parker;
  private final NanoClock clock;

  private int state = NOT_IDLE;
  private long phaseStartNs;
  private long parkNs;
  private long lastWorkNs;
  private long yieldsSkippedUntilNs;

  /**
   * @param spinNs how long to spin (0 for none)
   * @param yieldNs how long to yield after spinning (0 for none)
   * @param recentWorkNs spin and yield only if work was seen at most this long ago
   * @param minParkNs the first park; each further park doubles, up to {@code maxParkNs}
   * @param parker how to sleep
   * @param clock where time comes from (a fake one in tests)
   */
  public AdaptiveIdleStrategy(
      long spinNs,
      long yieldNs,
      long recentWorkNs,
      long minParkNs,
      long maxParkNs,
      Parker parker,
      NanoClock clock) {
    if (spinNs < 0 || yieldNs < 0 || recentWorkNs < 0) {
      throw new IllegalArgumentException(
          "spinNs "
              + spinNs
              + ", yieldNs "
              + yieldNs
              + " and recentWorkNs "
              + recentWorkNs
              + " must not be negative");
    }
    if (minParkNs <= 0 || maxParkNs < minParkNs) {
      throw new IllegalArgumentException(
          "minParkNs " + minParkNs + " must be positive and at most maxParkNs " + maxParkNs);
    }
    this.spinNs = spinNs;
    this.yieldNs = yieldNs;
    this.recentWorkNs = recentWorkNs;
    this.minParkNs = minParkNs;
    this.maxParkNs = maxParkNs;
    this.parker = Objects.requireNonNull(parker, "parker");
    this.clock = Objects.requireNonNull(clock, "clock");
    // As if work had just been done: the first wait of a new reader is not penalized.
    this.lastWorkNs = clock.nanoTime();
    this.yieldsSkippedUntilNs = lastWorkNs;
  }

  /** Defaults for this machine, parking with {@link LockSupport#parkNanos}. */
  public static AdaptiveIdleStrategy forThisMachine(long maxParkNs) {
    return new AdaptiveIdleStrategy(
        spinNsFor(Runtime.getRuntime().availableProcessors()),
        DEFAULT_YIELD_NS,
        DEFAULT_RECENT_WORK_NS,
        Math.min(TimeUnit.MICROSECONDS.toNanos(50), maxParkNs),
        maxParkNs,
        LockSupport::parkNanos,
        SystemNanoClock.INSTANCE);
  }

  /** The spin for a machine with {@code cpus} CPUs: none below four. */
  public static long spinNsFor(int cpus) {
    return cpus >= MIN_CPUS_TO_SPIN ? DEFAULT_SPIN_NS : 0;
  }

  @Override
  public void idle(int workCount) {
    if (workCount > 0) {
      lastWorkNs = clock.nanoTime();
      state = NOT_IDLE;
    } else {
      idle(maxParkNs);
    }
  }

  @Override
  public void idle() {
    idle(maxParkNs);
  }

  /** One idle step whose park, if it parks, lasts at most {@code limitNs}. */
  public void idle(long limitNs) {
    long now = clock.nanoTime();
    if (state == NOT_IDLE) {
      phaseStartNs = now;
      parkNs = minParkNs;
      if (now - lastWorkNs > recentWorkNs) {
        state = PARKING;
      } else if (spinNs > 0) {
        state = SPINNING;
      } else {
        state = yieldsAllowed(now) ? YIELDING : PARKING;
      }
    }
    if (state == SPINNING) {
      if (now - phaseStartNs < spinNs) {
        Thread.onSpinWait();
        return;
      }
      state = yieldsAllowed(now) ? YIELDING : PARKING;
      // The phases end at fixed times after the wait began, however late this call came.
      phaseStartNs += spinNs;
    }
    if (state == YIELDING) {
      if (now - phaseStartNs < yieldNs) {
        Thread.yield();
        long yielded = clock.nanoTime() - now;
        if (yielded > yieldNs) {
          yieldsSkippedUntilNs = now + yielded + YIELD_PENALTY_FACTOR * yieldNs;
          state = PARKING;
        }
        return;
      }
      state = PARKING;
    }
    parker.park(Math.min(parkNs, limitNs));
    parkNs = Math.min(parkNs << 1, maxParkNs);
  }

  /**
   * Starts the next wait from its first phase; not counted as work (use {@code idle(n > 0)} for
   * that), so a quiet link still parks at once.
   */
  @Override
  public void reset() {
    state = NOT_IDLE;
  }

  private boolean yieldsAllowed(long now) {
    return yieldNs > 0 && now - yieldsSkippedUntilNs >= 0;
  }

  @Override
  public String alias() {
    return "adaptive";
  }

  @Override
  public String toString() {
    return "AdaptiveIdleStrategy{spinNs="
        + spinNs
        + ", yieldNs="
        + yieldNs
        + ", recentWorkNs="
        + recentWorkNs
        + ", minParkNs="
        + minParkNs
        + ", maxParkNs="
        + maxParkNs
        + "}";
  }
}
