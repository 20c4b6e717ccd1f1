package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.JobSpec;
import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RangeSplitTest {

  /** Checks the sub-ranges are non-empty, in order, adjacent, and cover exactly [from, to]. */
  private static void assertCovers(RangeSplit split, long from, long to) {
    BigInteger covered = BigInteger.ZERO;
    long expectedFrom = from;
    for (int i = 0; i < split.count(); i++) {
      long taskFrom = split.from(i);
      long taskTo = split.to(i);
      assertEquals(expectedFrom, taskFrom, "task " + i + " starts where the previous one ended");
      assertTrue(taskFrom <= taskTo, "task " + i + " is not empty: " + split.describe(i));
      covered = covered.add(split.elements(i));
      if (i < split.count() - 1) {
        expectedFrom = taskTo + 1;
      } else {
        assertEquals(to, taskTo, "the last task ends at the range's end");
      }
    }
    assertEquals(RangeSplit.elements(from, to), covered);
  }

  /** Sizes of an even split differ by at most one, longer first. */
  private static void assertEven(RangeSplit split) {
    BigInteger first = split.elements(0);
    for (int i = 1; i < split.count(); i++) {
      BigInteger size = split.elements(i);
      assertTrue(size.compareTo(first) <= 0, "task " + i + " is no longer than task 0");
      assertTrue(first.subtract(size).compareTo(BigInteger.ONE) <= 0, "task " + i + " is even");
    }
  }

  @Test
  void splitsEvenlyWithLongerTasksFirst() {
    RangeSplit split = RangeSplit.even(1, 10, 3);
    assertEquals(3, split.count());
    assertEquals("[1, 4]", split.describe(0));
    assertEquals("[5, 7]", split.describe(1));
    assertEquals("[8, 10]", split.describe(2));
  }

  @Test
  void oneElementRangeGivesOneTask() {
    RangeSplit split = RangeSplit.even(7, 7, 16);
    assertEquals(1, split.count());
    assertEquals(7, split.from(0));
    assertEquals(7, split.to(0));
  }

  @Test
  void moreTasksThanElementsIsClampedToOneElementPerTask() {
    RangeSplit split = RangeSplit.even(-2, 2, 100);
    assertEquals(5, split.count());
    for (int i = 0; i < 5; i++) {
      assertEquals(i - 2, split.from(i));
      assertEquals(i - 2, split.to(i));
    }
  }

  @Test
  void negativeRanges() {
    RangeSplit split = RangeSplit.even(-100, -1, 4);
    assertCovers(split, -100, -1);
    assertEquals("[-100, -76]", split.describe(0));
    assertEquals("[-25, -1]", split.describe(3));
  }

  @Test
  void fullRangeOfLongsSplitInFour() {
    RangeSplit split = RangeSplit.even(Long.MIN_VALUE, Long.MAX_VALUE, 4);
    assertEquals(4, split.count());
    assertCovers(split, Long.MIN_VALUE, Long.MAX_VALUE);
    assertEquals(Long.MIN_VALUE, split.from(0));
    assertEquals(-(1L << 62) - 1, split.to(0));
    assertEquals(-(1L << 62), split.from(1));
    assertEquals(-1, split.to(1));
    assertEquals(0, split.from(2));
    assertEquals((1L << 62) - 1, split.to(2));
    assertEquals(1L << 62, split.from(3));
    assertEquals(Long.MAX_VALUE, split.to(3));
    for (int i = 0; i < 4; i++) {
      assertEquals(BigInteger.ONE.shiftLeft(62), split.elements(i));
    }
  }

  @Test
  void fullRangeOfLongsAsOneTask() {
    // 2^64 elements: the per-task step wraps to 0 in a long and must not matter.
    RangeSplit split = RangeSplit.even(Long.MIN_VALUE, Long.MAX_VALUE, 1);
    assertEquals(1, split.count());
    assertEquals(Long.MIN_VALUE, split.from(0));
    assertEquals(Long.MAX_VALUE, split.to(0));
  }

  @Test
  void fullRangeOfLongsInManyUnevenTasks() {
    for (int tasks : new int[] {2, 3, 7, 1000, 999_983, JobKinds.MAX_TASKS}) {
      RangeSplit split = RangeSplit.even(Long.MIN_VALUE, Long.MAX_VALUE, tasks);
      assertEquals(tasks, split.count());
      assertCovers(split, Long.MIN_VALUE, Long.MAX_VALUE);
      assertEven(split);
    }
  }

  @Test
  void rangesAtTheEdgesOfLong() {
    assertCovers(
        RangeSplit.even(Long.MAX_VALUE - 10, Long.MAX_VALUE, 4),
        Long.MAX_VALUE - 10,
        Long.MAX_VALUE);
    assertCovers(
        RangeSplit.even(Long.MIN_VALUE, Long.MIN_VALUE + 10, 4),
        Long.MIN_VALUE,
        Long.MIN_VALUE + 10);
    assertCovers(
        RangeSplit.even(Long.MAX_VALUE, Long.MAX_VALUE, 4), Long.MAX_VALUE, Long.MAX_VALUE);
    assertCovers(
        RangeSplit.even(Long.MIN_VALUE, Long.MIN_VALUE, 4), Long.MIN_VALUE, Long.MIN_VALUE);
    assertCovers(RangeSplit.even(-1, Long.MAX_VALUE, 3), -1, Long.MAX_VALUE);
    assertCovers(RangeSplit.even(Long.MIN_VALUE, 0, 3), Long.MIN_VALUE, 0);
  }

  @Test
  void randomRangesAgreeWithBigIntegerArithmetic() {
    SplittableRandom random = new SplittableRandom(42);
    for (int round = 0; round < 2000; round++) {
      long a = random.nextLong();
      long b = round % 2 == 0 ? random.nextLong() : a + random.nextInt(1000);
      long from = Math.min(a, b);
      long to = Math.max(a, b);
      int tasks = 1 + random.nextInt(round % 3 == 0 ? 2000 : 20);
      RangeSplit split = RangeSplit.even(from, to, tasks);
      assertCovers(split, from, to);
      assertEven(split);
      long size = 1 + random.nextLong(Long.MAX_VALUE / 2);
      if (RangeSplit.elements(from, to).divide(BigInteger.valueOf(size)).bitLength() < 20) {
        assertCovers(RangeSplit.ofSize(from, to, size), from, to);
      }
    }
  }

  @Test
  void fixedSizeTasksLeaveTheRestToTheLast() {
    RangeSplit split = RangeSplit.ofSize(0, 9, 4);
    assertEquals(3, split.count());
    assertEquals("[0, 3]", split.describe(0));
    assertEquals("[4, 7]", split.describe(1));
    assertEquals("[8, 9]", split.describe(2));

    RangeSplit exact = RangeSplit.ofSize(1, 12, 4);
    assertEquals(3, exact.count());
    assertEquals("[9, 12]", exact.describe(2));

    RangeSplit nearMax = RangeSplit.ofSize(Long.MAX_VALUE - 9, Long.MAX_VALUE, 3);
    assertEquals(4, nearMax.count());
    assertCovers(nearMax, Long.MAX_VALUE - 9, Long.MAX_VALUE);
    assertEquals("[" + Long.MAX_VALUE + ", " + Long.MAX_VALUE + "]", nearMax.describe(3));

    RangeSplit fullRange = RangeSplit.ofSize(Long.MIN_VALUE, Long.MAX_VALUE, 1L << 62);
    assertEquals(4, fullRange.count());
    assertCovers(fullRange, Long.MIN_VALUE, Long.MAX_VALUE);
  }

  @Test
  void planUsesTheSpecOrTheDefault() throws InvalidJobException {
    JobSpec none = JobSpec.getDefaultInstance();
    assertEquals(1, RangeSplit.plan(none, 1, RangeSplit.SMALL_RANGE - 1).count());
    assertEquals(
        RangeSplit.DEFAULT_TASKS, RangeSplit.plan(none, 1, RangeSplit.SMALL_RANGE).count());
    assertEquals(5, RangeSplit.plan(JobSpec.newBuilder().setTasks(5).build(), 1, 100).count());
    assertEquals(3, RangeSplit.plan(JobSpec.newBuilder().setTasks(5).build(), 1, 3).count());
    assertEquals(10, RangeSplit.plan(JobSpec.newBuilder().setTaskSize(10).build(), 1, 100).count());
    assertEquals(11, RangeSplit.plan(JobSpec.newBuilder().setTaskSize(10).build(), 1, 101).count());
    RangeSplit full =
        RangeSplit.plan(
            JobSpec.newBuilder().setTaskSize(Long.MAX_VALUE).build(),
            Long.MIN_VALUE,
            Long.MAX_VALUE);
    assertEquals(3, full.count());
    assertCovers(full, Long.MIN_VALUE, Long.MAX_VALUE);
  }

  @Test
  void planRejectsTooManyTasksFromTaskSize() {
    InvalidJobException e =
        assertThrows(
            InvalidJobException.class,
            () -> RangeSplit.plan(JobSpec.newBuilder().setTaskSize(10).build(), 1, 1_000_000_000));
    assertEquals("task_size", e.field());
    assertEquals(
        "task_size: 10 gives 100000000 tasks for 1000000000 elements; at most 1000000 tasks per"
            + " job, so task_size must be >= 1000",
        e.getMessage());
  }

  @Test
  void planRejectsBadSplitFields() {
    assertEquals(
        "tasks: set tasks or task_size, not both",
        assertThrows(
                InvalidJobException.class,
                () ->
                    RangeSplit.plan(JobSpec.newBuilder().setTasks(2).setTaskSize(2).build(), 1, 9))
            .getMessage());
    assertEquals(
        "tasks: must be between 1 and 1000000, or 0 for the kind's default (got -1)",
        assertThrows(
                InvalidJobException.class,
                () -> RangeSplit.plan(JobSpec.newBuilder().setTasks(-1).build(), 1, 9))
            .getMessage());
    assertEquals(
        "tasks: must be between 1 and 1000000, or 0 for the kind's default (got 1000001)",
        assertThrows(
                InvalidJobException.class,
                () -> RangeSplit.plan(JobSpec.newBuilder().setTasks(1_000_001).build(), 1, 9))
            .getMessage());
    assertEquals(
        "task_size: must be >= 1, or 0 for the kind's default (got -5)",
        assertThrows(
                InvalidJobException.class,
                () -> RangeSplit.plan(JobSpec.newBuilder().setTaskSize(-5).build(), 1, 9))
            .getMessage());
  }

  @Test
  void misuseIsABug() {
    assertThrows(IllegalArgumentException.class, () -> RangeSplit.even(5, 4, 1));
    assertThrows(IllegalArgumentException.class, () -> RangeSplit.even(1, 4, 0));
    assertThrows(IllegalArgumentException.class, () -> RangeSplit.ofSize(1, 4, 0));
    assertThrows(IndexOutOfBoundsException.class, () -> RangeSplit.even(1, 4, 2).from(2));
    assertThrows(IndexOutOfBoundsException.class, () -> RangeSplit.even(1, 4, 2).to(-1));
  }
}
