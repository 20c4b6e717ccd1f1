package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.CountTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PrimesParams;
import java.math.BigInteger;
import org.junit.jupiter.api.Test;

class PrimesKindTest {
  private final PrimesKind kind = new PrimesKind();

  private static JobSpec spec(long from, long to, int tasks) {
    return JobSpec.newBuilder()
        .setPrimes(PrimesParams.newBuilder().setFrom(from).setTo(to))
        .setTasks(tasks)
        .build();
  }

  private long count(long from, long to, int tasks) throws Exception {
    JobResult result = KindHarness.runJob(kind, spec(from, to, tasks));
    assertEquals(Long.toString(result.getPrimes().getCount()), result.getSummary());
    return result.getPrimes().getCount();
  }

  private static long naiveCount(long from, long to) {
    long count = 0;
    for (long n = Math.max(from, 2); n <= to; n++) {
      if (BigInteger.valueOf(n).isProbablePrime(60)) {
        count++;
      }
    }
    return count;
  }

  @Test
  void knownCounts() throws Exception {
    assertEquals(25, count(1, 100, 0));
    assertEquals(25, count(1, 100, 7));
    assertEquals(25, count(-100, 100, 3));
    assertEquals(78_498, count(1, 1_000_000, 0));
    assertEquals(78_498, count(0, 1_000_000, 13));
    assertEquals(664_579, count(1, 10_000_000, 0));
    assertEquals(664_579, count(1, 10_000_000, 3));
  }

  @Test
  void smallAndNegativeRanges() throws Exception {
    assertEquals(0, count(Long.MIN_VALUE, 1, 4));
    assertEquals(0, count(-10, -1, 0));
    assertEquals(1, count(2, 2, 0));
    assertEquals(1, count(Long.MIN_VALUE, 2, 0));
    assertEquals(2, count(2, 3, 5));
    assertEquals(0, count(4, 4, 0));
    assertEquals(0, count(24, 28, 2));
    assertEquals(1, count(97, 97, 1));
  }

  @Test
  void negativeFromIsNotSplitIntoIdleTasks() throws Exception {
    TaskPlan plan = kind.plan(spec(Long.MIN_VALUE, 100, 4));
    assertEquals(4, plan.taskCount());
    assertEquals("[2, 26]", plan.describe(0));
    assertEquals("[77, 100]", plan.describe(3));
  }

  @Test
  void agreesWithTrialDivisionAcrossSegmentEdges() throws InterruptedException {
    // A segment holds 2^21 odd numbers, so segments start every 2^22 numbers.
    long edge = 3 + (1L << 22);
    for (long[] range :
        new long[][] {
          {edge - 2000, edge + 2000},
          {edge, edge},
          {edge - 1, edge + 1},
          {2 * edge - 3000, 2 * edge + 10},
          {1, 5000},
          {999_000, 1_001_000},
        }) {
      assertEquals(
          naiveCount(range[0], range[1]),
          PrimeSieve.count(range[0], range[1], new TestContext()),
          "[" + range[0] + ", " + range[1] + "]");
    }
  }

  @Test
  void countsNearTheLargestAllowedEnd() throws InterruptedException {
    long to = PrimeSieve.MAX_TO;
    assertEquals(naiveCount(to - 2000, to), PrimeSieve.count(to - 2000, to, new TestContext()));
  }

  @Test
  void basePrimes() throws InterruptedException {
    assertArrayEquals(new int[] {}, PrimeSieve.oddPrimesUpTo(2, new TestContext()));
    assertArrayEquals(new int[] {3}, PrimeSieve.oddPrimesUpTo(3, new TestContext()));
    assertArrayEquals(
        new int[] {3, 5, 7, 11, 13, 17, 19, 23, 29},
        PrimeSieve.oddPrimesUpTo(30, new TestContext()));
    assertEquals(664_578, PrimeSieve.oddPrimesUpTo(10_000_000, new TestContext()).length);
  }

  @Test
  void squareRoots() {
    assertEquals(0, PrimeSieve.sqrtFloor(0));
    assertEquals(3, PrimeSieve.sqrtFloor(15));
    assertEquals(4, PrimeSieve.sqrtFloor(16));
    assertEquals(31_622_776, PrimeSieve.sqrtFloor(PrimeSieve.MAX_TO));
    assertEquals(3_037_000_499L, PrimeSieve.sqrtFloor(Long.MAX_VALUE));
  }

  @Test
  void rejectsBadRanges() {
    InvalidJobException empty =
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(10, 5, 0)));
    assertEquals("primes.from", empty.field());
    assertEquals("primes.from: must be <= primes.to (got from=10, to=5)", empty.getMessage());
    InvalidJobException tooFar =
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(1, PrimeSieve.MAX_TO + 1, 0)));
    assertEquals("primes.to", tooFar.field());
    assertEquals(
        "primes.to: must be <= 1000000000000000 (got 1000000000000001)", tooFar.getMessage());
  }

  @Test
  void cancelledTaskStops() {
    TestContext context = new TestContext();
    context.cancel();
    assertThrows(InterruptedException.class, () -> PrimeSieve.count(1, 1_000_000, context));
  }

  @Test
  void reductionIgnoresDuplicatesAndRejectsGarbage() throws Exception {
    JobSpec spec = spec(1, 100, 2);
    TaskPlan plan = kind.plan(spec);
    JobReduction reduction = kind.reduction(spec, plan);
    ByteString first = kind.run(plan.input(0), new TestContext());
    reduction.add(0, first);
    reduction.add(0, first);
    assertThrows(
        InvalidTaskOutputException.class,
        () -> reduction.add(1, ByteString.copyFrom(new byte[] {0x08})));
    assertThrows(
        InvalidTaskOutputException.class,
        () -> reduction.add(1, CountTaskOutput.newBuilder().setCount(-1).build().toByteString()));
    reduction.add(1, kind.run(plan.input(1), new TestContext()));
    assertEquals(25, reduction.result().getPrimes().getCount());
    assertTrue(plan.describe(1).startsWith("["));
  }
}
