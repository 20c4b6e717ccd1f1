package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.CountTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PiParams;
import dev.weft.v1.PiResult;
import dev.weft.v1.PiTask;
import java.util.List;
import org.junit.jupiter.api.Test;

class PiKindTest {
  private final PiKind kind = new PiKind();

  private static JobSpec spec(long samples, long seed, int tasks) {
    return JobSpec.newBuilder()
        .setPi(PiParams.newBuilder().setSamples(samples).setSeed(seed))
        .setTasks(tasks)
        .build();
  }

  @Test
  void sameSeedAndTasksGiveTheSameResultInAnyOrder() throws Exception {
    JobSpec spec = spec(1_000_000, 42, 8);
    TaskPlan plan = kind.plan(spec);
    List<ByteString> outputs = KindHarness.runTasks(kind, plan);
    PiResult first = KindHarness.reduce(kind, spec, plan, outputs, 1).getPi();
    for (long order = 2; order < 6; order++) {
      assertEquals(first, KindHarness.reduce(kind, spec, plan, outputs, order).getPi());
    }
    // A fresh plan and fresh runs, as on other workers, give the same points.
    assertEquals(first, KindHarness.runJob(kind, spec).getPi());
    assertEquals(1_000_000, first.getSamples());
    assertEquals(4.0 * first.getInside() / 1_000_000, first.getEstimate());
    assertEquals(Math.PI, first.getEstimate(), 0.01);
  }

  @Test
  void seedsGiveDifferentPoints() throws Exception {
    PiResult a = KindHarness.runJob(kind, spec(100_000, 1, 4)).getPi();
    PiResult b = KindHarness.runJob(kind, spec(100_000, 2, 4)).getPi();
    assertNotEquals(a.getInside(), b.getInside());
  }

  @Test
  void tasksGetDistinctSeedsAndShareTheSamples() throws Exception {
    TaskPlan plan = kind.plan(spec(10, 0, 3));
    assertEquals(3, plan.taskCount());
    PiTask t0 = PiTask.parseFrom(plan.input(0));
    PiTask t1 = PiTask.parseFrom(plan.input(1));
    PiTask t2 = PiTask.parseFrom(plan.input(2));
    assertEquals(List.of(4L, 3L, 3L), List.of(t0.getSamples(), t1.getSamples(), t2.getSamples()));
    assertNotEquals(t0.getSeed(), t1.getSeed());
    assertNotEquals(t1.getSeed(), t2.getSeed());
    assertEquals(t0, PiTask.parseFrom(plan.input(0)));
    assertEquals("4 samples", plan.describe(0));
  }

  @Test
  void generatorIsTheReferenceSplitMix64() {
    // First outputs of SplitMix64 seeded with 0, as published with the algorithm.
    SplitMix64 random = new SplitMix64(0);
    assertEquals(0xe220a8397b1dcdafL, random.nextLong());
    assertEquals(0x6e789e6aa1b965f4L, random.nextLong());
    assertEquals(0x06c45d188009454fL, random.nextLong());
  }

  @Test
  void summaryAndClamping() throws Exception {
    JobResult result = KindHarness.runJob(kind, spec(3, 7, 10));
    assertEquals(3, result.getPi().getSamples());
    assertTrue(result.getSummary().endsWith(" of 3 samples inside)"), result.getSummary());
    assertEquals(3, kind.plan(spec(3, 7, 10)).taskCount());
  }

  @Test
  void rejectsNoSamples() {
    InvalidJobException e = assertThrows(InvalidJobException.class, () -> kind.plan(spec(0, 0, 0)));
    assertEquals("pi.samples", e.field());
    assertEquals("pi.samples: must be >= 1 (got 0)", e.getMessage());
  }

  @Test
  void reductionRejectsImpossibleCounts() throws Exception {
    JobSpec spec = spec(10, 0, 2);
    JobReduction reduction = kind.reduction(spec, kind.plan(spec));
    assertThrows(
        InvalidTaskOutputException.class,
        () -> reduction.add(0, CountTaskOutput.newBuilder().setCount(11).build().toByteString()));
    reduction.add(0, CountTaskOutput.newBuilder().setCount(4).build().toByteString());
    reduction.add(0, CountTaskOutput.newBuilder().setCount(5).build().toByteString());
    reduction.add(1, CountTaskOutput.newBuilder().setCount(4).build().toByteString());
    assertEquals(8, reduction.result().getPi().getInside());
    assertEquals(3.2, reduction.result().getPi().getEstimate());
  }

  @Test
  void cancelledTaskStops() throws Exception {
    TestContext context = new TestContext();
    context.cancel();
    ByteString input = kind.plan(spec(Long.MAX_VALUE, 0, 1)).input(0);
    assertThrows(InterruptedException.class, () -> kind.run(input, context));
  }
}
