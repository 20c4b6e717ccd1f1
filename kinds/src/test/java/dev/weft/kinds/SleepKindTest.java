package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.CountTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.SleepParams;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SleepKindTest {
  private final SleepKind kind = new SleepKind();

  private static JobSpec spec(long ms, int tasks) {
    return JobSpec.newBuilder()
        .setSleep(SleepParams.newBuilder().setMs(ms))
        .setTasks(tasks)
        .build();
  }

  @Test
  void sleepsAndCountsTasks() throws Exception {
    TaskPlan plan = kind.plan(spec(20, 3));
    assertEquals(3, plan.taskCount());
    assertEquals("sleep 20 ms", plan.describe(2));
    long started = System.nanoTime();
    ByteString output = kind.run(plan.input(0), new TestContext());
    assertTrue(System.nanoTime() - started >= TimeUnit.MILLISECONDS.toNanos(20));
    assertEquals(1, CountTaskOutput.parseFrom(output).getCount());

    JobResult result = KindHarness.runJob(kind, spec(0, 3));
    assertEquals(3, result.getCount().getTasks());
    assertEquals("3 tasks slept 0 ms", result.getSummary());
    assertEquals(1, kind.plan(spec(0, 0)).taskCount());
  }

  @Test
  void cancellationEndsTheSleepAtOnce() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try {
      ByteString input = kind.plan(spec(SleepKind.MAX_MS, 1)).input(0);
      TestContext context = new TestContext();
      Future<ByteString> running = executor.submit(() -> kind.run(input, context));
      assertTrue(context.awaitRegistration(Duration.ofSeconds(10)));
      context.cancel();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> running.get(10, TimeUnit.SECONDS));
      assertInstanceOf(InterruptedException.class, e.getCause());
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void alreadyCancelledTaskDoesNotSleep() throws Exception {
    TestContext context = new TestContext();
    context.cancel();
    ByteString input = kind.plan(spec(SleepKind.MAX_MS, 1)).input(0);
    assertThrows(InterruptedException.class, () -> kind.run(input, context));
  }

  @Test
  void interruptionEndsTheSleep() throws Exception {
    ByteString input = kind.plan(spec(SleepKind.MAX_MS, 1)).input(0);
    TestContext context = new TestContext();
    CompletableFuture<Throwable> thrown = new CompletableFuture<>();
    Thread taskThread =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    kind.run(input, context);
                    thrown.complete(null);
                  } catch (Throwable t) {
                    thrown.complete(t);
                  }
                });
    assertTrue(context.awaitRegistration(Duration.ofSeconds(10)));
    taskThread.interrupt();
    assertInstanceOf(InterruptedException.class, thrown.get(10, TimeUnit.SECONDS));
    assertTrue(taskThread.join(Duration.ofSeconds(10)));
  }

  @Test
  void rejectsBadSpecs() {
    assertEquals(
        "sleep.ms: must be between 0 and 86400000 (got -1)",
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(-1, 0))).getMessage());
    assertEquals(
        "sleep.ms: must be between 0 and 86400000 (got 86400001)",
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(86_400_001, 0))).getMessage());
    assertEquals(
        "task_size: not used by sleep jobs; set tasks instead (got 4)",
        assertThrows(
                InvalidJobException.class,
                () -> kind.plan(spec(1, 0).toBuilder().setTaskSize(4).build()))
            .getMessage());
    assertEquals(
        "tasks: must be between 1 and 1000000, or 0 for the kind's default (got 1000001)",
        assertThrows(InvalidJobException.class, () -> kind.plan(spec(1, 1_000_001))).getMessage());
  }
}
