package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.NoopParams;
import dev.weft.v1.NoopTask;
import dev.weft.v1.NoopTaskOutput;
import org.junit.jupiter.api.Test;

class NoopKindTest {
  private final NoopKind kind = new NoopKind();

  private static JobSpec spec(int payloadBytes, int tasks) {
    return JobSpec.newBuilder()
        .setNoop(NoopParams.newBuilder().setPayloadBytes(payloadBytes))
        .setTasks(tasks)
        .build();
  }

  @Test
  void carriesThePayloadAndCountsIt() throws Exception {
    JobResult result = KindHarness.runJob(kind, spec(1000, 5));
    assertEquals(5, result.getCount().getTasks());
    assertEquals(5000, result.getCount().getBytes());
    assertEquals("5 tasks, 5000 payload bytes", result.getSummary());
    assertEquals("1 task, 0 payload bytes", KindHarness.runJob(kind, spec(0, 0)).getSummary());
  }

  @Test
  void payloadIsDeterministicAndSharedAcrossTasks() throws Exception {
    TaskPlan plan = kind.plan(spec(4096, 3));
    assertSame(plan.input(0), plan.input(2));
    ByteString payload = NoopTask.parseFrom(plan.input(0)).getPayload();
    assertEquals(NoopKind.payload(4096), payload);
    assertEquals(4096, payload.size());
    assertNotEquals(ByteString.copyFrom(new byte[4096]), payload);
    assertEquals("payload 4096 bytes", plan.describe(1));
  }

  @Test
  void largestPayload() throws Exception {
    TaskPlan plan = kind.plan(spec(NoopKind.MAX_PAYLOAD_BYTES, 1));
    ByteString output = kind.run(plan.input(0), new TestContext());
    assertEquals(NoopKind.MAX_PAYLOAD_BYTES, NoopTaskOutput.parseFrom(output).getBytes());
  }

  @Test
  void reductionCatchesAMangledPayload() throws Exception {
    JobSpec spec = spec(100, 2);
    JobReduction reduction = kind.reduction(spec, kind.plan(spec));
    InvalidTaskOutputException e =
        assertThrows(
            InvalidTaskOutputException.class,
            () ->
                reduction.add(0, NoopTaskOutput.newBuilder().setBytes(99).build().toByteString()));
    assertEquals("noop task 0: the worker saw 99 payload bytes, expected 100", e.getMessage());
    ByteString good = NoopTaskOutput.newBuilder().setBytes(100).build().toByteString();
    reduction.add(1, good);
    reduction.add(1, good);
    assertEquals(100, reduction.result().getCount().getBytes());
    assertEquals(1, reduction.result().getCount().getTasks());
  }

  @Test
  void rejectsBadSpecs() {
    assertEquals(
        "noop.payload_bytes: must be between 0 and 16777216 (got 16777217)",
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(16 * 1024 * 1024 + 1, 0)))
            .getMessage());
    assertEquals(
        "noop.payload_bytes: must be between 0 and 16777216 (got -1)",
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(-1, 0))).getMessage());
    assertEquals(
        "tasks: must be between 1 and 1000000, or 0 for the kind's default (got -2)",
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(0, -2))).getMessage());
    assertEquals(
        "task_size: not used by noop jobs; set tasks instead (got 1)",
        assertThrows(
                InvalidJobException.class,
                () -> kind.plan(spec(0, 0).toBuilder().setTaskSize(1).build()))
            .getMessage());
  }
}
