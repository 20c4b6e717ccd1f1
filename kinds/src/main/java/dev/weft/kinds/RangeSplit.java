package dev.weft.kinds;

import dev.weft.v1.JobSpec;
import java.math.BigInteger;

/**
 * A range of longs {@code [from, to]} cut into contiguous, non-empty sub-ranges in order: the split
 * of every kind whose work is a range of numbers ({@code sum}, {@code primes}, the samples of
 * {@code pi}, the bytes of {@code hash}).
 *
 * <p>A range may hold 2^64 elements, one more than a long can count, so sizes are worked out with
 * {@link BigInteger}. The bounds of each sub-range are then computed in wrapping long arithmetic:
 * that is exact modulo 2^64, and the true bound is a long in {@code [from, to]}, so the wrapped
 * value is the true one.
 */
final class RangeSplit {
  /** Ranges with fewer elements than this run as one task unless the spec asks otherwise. */
  static final long SMALL_RANGE = 1_000_000;

  /** Tasks of a larger range when the spec leaves the split to the kind. */
  static final int DEFAULT_TASKS = 16;

  private final long from;
  private final long to;
  private final int count;
  // Task i starts i * step + min(i, longer) elements after from; step is modulo 2^64.
  private final long step;
  private final int longer;

  private RangeSplit(long from, long to, int count, long step, int longer) {
    this.from = from;
    this.to = to;
    this.count = count;
    this.step = step;
    this.longer = longer;
  }

  /** The number of longs in {@code [from, to]}; {@code from <= to}. */
  static BigInteger elements(long from, long to) {
    return BigInteger.valueOf(to).subtract(BigInteger.valueOf(from)).add(BigInteger.ONE);
  }

  /**
   * {@code [from, to]} in {@code tasks} sub-ranges whose sizes differ by at most one, the longer
   * first; fewer when the range has fewer elements than {@code tasks}.
   */
  static RangeSplit even(long from, long to, int tasks) {
    checkRange(from, to);
    if (tasks < 1) {
      throw new IllegalArgumentException("tasks must be >= 1 (got " + tasks + ")");
    }
    BigInteger elements = elements(from, to);
    int count = elements.min(BigInteger.valueOf(tasks)).intValueExact();
    BigInteger[] division = elements.divideAndRemainder(BigInteger.valueOf(count));
    return new RangeSplit(from, to, count, division[0].longValue(), division[1].intValueExact());
  }

  /** {@code [from, to]} in sub-ranges of {@code size} elements, the last one shorter if need be. */
  static RangeSplit ofSize(long from, long to, long size) {
    checkRange(from, to);
    if (size < 1) {
      throw new IllegalArgumentException("size must be >= 1 (got " + size + ")");
    }
    BigInteger count = ceilDiv(elements(from, to), BigInteger.valueOf(size));
    if (count.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException(
          "size " + size + " cuts [" + from + ", " + to + "] into " + count + " ranges");
    }
    return new RangeSplit(from, to, count.intValueExact(), size, 0);
  }

  /**
   * The split a job asks for: {@code task_size} elements per task, or {@code tasks} tasks, or by
   * default one task for a small range and {@link #DEFAULT_TASKS} for a larger one.
   */
  static RangeSplit plan(JobSpec spec, long from, long to) throws InvalidJobException {
    TaskCount.checkFields(spec);
    BigInteger elements = elements(from, to);
    long size = spec.getTaskSize();
    if (size > 0) {
      BigInteger count = ceilDiv(elements, BigInteger.valueOf(size));
      if (count.compareTo(BigInteger.valueOf(JobKinds.MAX_TASKS)) > 0) {
        throw new InvalidJobException(
            "task_size",
            size
                + " gives "
                + count
                + " tasks for "
                + elements
                + " elements; at most "
                + JobKinds.MAX_TASKS
                + " tasks per job, so task_size must be >= "
                + ceilDiv(elements, BigInteger.valueOf(JobKinds.MAX_TASKS)));
      }
      return ofSize(from, to, size);
    }
    int tasks = spec.getTasks();
    if (tasks == 0) {
      tasks = elements.compareTo(BigInteger.valueOf(SMALL_RANGE)) < 0 ? 1 : DEFAULT_TASKS;
    }
    return even(from, to, tasks);
  }

  int count() {
    return count;
  }

  /** The first element of task {@code task}. */
  long from(int task) {
    checkTask(task);
    return from + task * step + Math.min(task, longer);
  }

  /** The last element of task {@code task}. */
  long to(int task) {
    checkTask(task);
    return task == count - 1 ? to : from(task + 1) - 1;
  }

  /** The number of elements of task {@code task}. */
  BigInteger elements(int task) {
    return elements(from(task), to(task));
  }

  String describe(int task) {
    return "[" + from(task) + ", " + to(task) + "]";
  }

  private void checkTask(int task) {
    if (task < 0 || task >= count) {
      throw new IndexOutOfBoundsException("task " + task + " of " + count);
    }
  }

  private static void checkRange(long from, long to) {
    if (from > to) {
      throw new IllegalArgumentException("empty range [" + from + ", " + to + "]");
    }
  }

  private static BigInteger ceilDiv(BigInteger a, BigInteger b) {
    return a.add(b).subtract(BigInteger.ONE).divide(b);
  }
}
