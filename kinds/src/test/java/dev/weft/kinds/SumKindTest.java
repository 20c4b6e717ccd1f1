package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RangeTask;
import dev.weft.v1.SumParams;
import dev.weft.v1.SumTaskOutput;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SumKindTest {
  private final SumKind kind = new SumKind();

  private static JobSpec spec(long from, long to, int tasks) {
    return JobSpec.newBuilder()
        .setSum(SumParams.newBuilder().setFrom(from).setTo(to))
        .setTasks(tasks)
        .build();
  }

  /** The exact sum of [from, to] by the closed form, to check the workers' loop against. */
  private static BigInteger expected(long from, long to) {
    BigInteger a = BigInteger.valueOf(from);
    BigInteger b = BigInteger.valueOf(to);
    return a.add(b).multiply(b.subtract(a).add(BigInteger.ONE)).shiftRight(1);
  }

  /** Plans, runs every task and reduces, adding the outputs in a shuffled order. */
  private JobResult runJob(JobSpec spec) throws Exception {
    TaskPlan plan = kind.plan(spec);
    List<Integer> order = new ArrayList<>();
    List<ByteString> outputs = new ArrayList<>();
    for (int i = 0; i < plan.taskCount(); i++) {
      order.add(i);
      outputs.add(kind.run(plan.input(i), new TestContext()));
    }
    Collections.shuffle(order, new Random(7));
    JobReduction reduction = kind.reduction(spec, plan);
    for (int i : order) {
      reduction.add(i, outputs.get(i));
    }
    return reduction.result();
  }

  private String sum(long from, long to, int tasks) throws Exception {
    JobResult result = runJob(spec(from, to, tasks));
    assertEquals(result.getSum().getSum(), result.getSummary());
    return result.getSum().getSum();
  }

  @Test
  void sumsSmallRanges() throws Exception {
    assertEquals("5050", sum(1, 100, 0));
    assertEquals("5050", sum(1, 100, 7));
    assertEquals("5050", sum(1, 100, 1000));
    assertEquals("42", sum(42, 42, 3));
    assertEquals("0", sum(-1000, 1000, 9));
    assertEquals("-5050", sum(-100, -1, 4));
    assertEquals("500000500000", sum(1, 1_000_000, 0));
  }

  @Test
  void sumsAHundredMillionNumbers() throws Exception {
    assertEquals("5000000050000000", sum(1, 100_000_000, 4));
  }

  @Test
  void sumsNearTheEdgesOfLong() throws Exception {
    assertEquals(
        expected(Long.MAX_VALUE - 10, Long.MAX_VALUE).toString(),
        sum(Long.MAX_VALUE - 10, Long.MAX_VALUE, 4));
    assertEquals(
        expected(Long.MIN_VALUE, Long.MIN_VALUE + 10).toString(),
        sum(Long.MIN_VALUE, Long.MIN_VALUE + 10, 4));
    // Blocks of large numbers take the 128-bit path; three million of them cross block edges.
    long from = Long.MAX_VALUE - 3_000_000;
    assertEquals(expected(from, Long.MAX_VALUE).toString(), sum(from, Long.MAX_VALUE, 1));
    assertEquals(
        expected(Long.MIN_VALUE, Long.MIN_VALUE + 3_000_000).toString(),
        sum(Long.MIN_VALUE, Long.MIN_VALUE + 3_000_000, 2));
  }

  @Test
  void sumsAcrossTheFastPathBoundary() throws Exception {
    // 2^43 is where a block of 2^20 numbers could overflow a plain long.
    long edge = Long.MAX_VALUE >> 20;
    assertEquals(
        expected(edge - 1_500_000, edge + 1_500_000).toString(),
        sum(edge - 1_500_000, edge + 1_500_000, 1));
    assertEquals(
        expected(-edge - 1_500_000, -edge + 1_500_000).toString(),
        sum(-edge - 1_500_000, -edge + 1_500_000, 1));
  }

  @Test
  void fullRangeOfLongsPlansFourQuartersAndReducesTheirSums() throws Exception {
    JobSpec spec = spec(Long.MIN_VALUE, Long.MAX_VALUE, 4);
    TaskPlan plan = kind.plan(spec);
    assertEquals(4, plan.taskCount());
    JobReduction reduction = kind.reduction(spec, plan);
    for (int i = 0; i < 4; i++) {
      RangeTask task = RangeTask.parseFrom(plan.input(i));
      // 2^62 additions per task are out of reach here; the closed form stands in for the worker,
      // which exercises the 128-bit encoding with partial sums near 2^124.
      BigInteger partial = expected(task.getFrom(), task.getTo());
      reduction.add(i, encode(partial));
    }
    assertEquals(
        BigInteger.valueOf(Long.MIN_VALUE).toString(), reduction.result().getSum().getSum());
    assertEquals("[" + Long.MIN_VALUE + ", " + (-(1L << 62) - 1) + "]", plan.describe(0));
  }

  private static ByteString encode(BigInteger value) {
    return SumTaskOutput.newBuilder()
        .setHigh(value.shiftRight(64).longValueExact())
        .setLow(value.longValue())
        .build()
        .toByteString();
  }

  @Test
  void int128RoundTripsLargeValues() {
    for (BigInteger value :
        List.of(
            BigInteger.ZERO,
            BigInteger.ONE.negate(),
            BigInteger.ONE.shiftLeft(126),
            BigInteger.ONE.shiftLeft(127).negate(),
            BigInteger.ONE.shiftLeft(127).subtract(BigInteger.ONE))) {
      assertEquals(
          value, Int128.toBigInteger(value.shiftRight(64).longValueExact(), value.longValue()));
    }
    Int128 accumulator = new Int128();
    for (int i = 0; i < 4; i++) {
      accumulator.add(Long.MIN_VALUE);
    }
    accumulator.add(-1);
    accumulator.add(Long.MAX_VALUE);
    assertEquals(
        BigInteger.valueOf(Long.MIN_VALUE)
            .multiply(BigInteger.valueOf(4))
            .add(BigInteger.valueOf(Long.MAX_VALUE - 1)),
        Int128.toBigInteger(accumulator.high(), accumulator.low()));
  }

  @Test
  void duplicateAddIsIgnored() throws Exception {
    JobSpec spec = spec(1, 10, 2);
    TaskPlan plan = kind.plan(spec);
    JobReduction reduction = kind.reduction(spec, plan);
    ByteString first = kind.run(plan.input(0), new TestContext());
    reduction.add(0, first);
    reduction.add(0, first);
    reduction.add(1, kind.run(plan.input(1), new TestContext()));
    reduction.add(1, kind.run(plan.input(1), new TestContext()));
    assertEquals("55", reduction.result().getSum().getSum());
  }

  @Test
  void resultBeforeEveryTaskIsABug() throws Exception {
    JobSpec spec = spec(1, 10, 2);
    TaskPlan plan = kind.plan(spec);
    JobReduction reduction = kind.reduction(spec, plan);
    reduction.add(0, kind.run(plan.input(0), new TestContext()));
    IllegalStateException e = assertThrows(IllegalStateException.class, reduction::result);
    assertEquals("sum: result asked for after 1 of 2 tasks were added", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> reduction.add(2, ByteString.EMPTY));
  }

  @Test
  void unparsableOutputIsRejected() throws Exception {
    JobSpec spec = spec(1, 10, 1);
    JobReduction reduction = kind.reduction(spec, kind.plan(spec));
    InvalidTaskOutputException e =
        assertThrows(
            InvalidTaskOutputException.class,
            () -> reduction.add(0, ByteString.copyFrom(new byte[] {0x0a, 0x05, 0x01})));
    assertTrue(e.getMessage().startsWith("sum task 0: output does not parse: "));
  }

  @Test
  void rejectsAnEmptyRange() {
    InvalidJobException e =
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(10, 5, 0)));
    assertEquals("sum.from", e.field());
    assertEquals("sum.from: must be <= sum.to (got from=10, to=5)", e.getMessage());
  }

  @Test
  void rejectsAMismatchedSpec() {
    assertEquals(
        "params: a sum job needs sum parameters",
        assertThrows(InvalidJobException.class, () -> kind.plan(JobSpec.getDefaultInstance()))
            .getMessage());
  }

  @Test
  void describesTasksAsRanges() throws Exception {
    TaskPlan plan = kind.plan(spec(1, 20_000_000, 2));
    assertEquals("[1, 10000000]", plan.describe(0));
    assertEquals("[10000001, 20000000]", plan.describe(1));
  }

  @Test
  void cancellationStopsALongTask() throws Exception {
    TestContext context = new TestContext();
    context.cancel();
    assertThrows(
        InterruptedException.class,
        () -> kind.run(kind.plan(spec(0, Long.MAX_VALUE, 1)).input(0), context));
  }

  @Test
  void cancellingARunningTaskStopsIt() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try {
      TaskPlan plan = kind.plan(spec(0, Long.MAX_VALUE, 1));
      TestContext context = new TestContext();
      Future<ByteString> running = executor.submit(() -> kind.run(plan.input(0), context));
      context.cancel();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> running.get(10, TimeUnit.SECONDS));
      assertInstanceOf(InterruptedException.class, e.getCause());
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void interruptingTheThreadStopsARunningTask() throws Exception {
    TaskPlan plan = kind.plan(spec(0, Long.MAX_VALUE, 1));
    CompletableFuture<Throwable> thrown = new CompletableFuture<>();
    Thread worker =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    kind.run(plan.input(0), new TestContext());
                    thrown.complete(null);
                  } catch (Throwable t) {
                    thrown.complete(t);
                  }
                });
    worker.interrupt();
    assertInstanceOf(InterruptedException.class, thrown.get(10, TimeUnit.SECONDS));
    worker.join(Duration.ofSeconds(10));
  }

  @Test
  void rejectsBadTaskInput() {
    assertThrows(
        TaskFailedException.class,
        () ->
            kind.run(
                RangeTask.newBuilder().setFrom(5).setTo(4).build().toByteString(),
                new TestContext()));
    assertThrows(
        TaskFailedException.class,
        () -> kind.run(ByteString.copyFrom(new byte[] {0x0a, 0x05}), new TestContext()));
  }
}
