package dev.weft.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.weft.kinds.JobKinds;
import dev.weft.posix.OwnCgroup;
import dev.weft.posix.ProcessStat;
import dev.weft.v1.ExecTask;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.JobSpec;
import dev.weft.v1.NoopTask;
import dev.weft.v1.PrimesParams;
import dev.weft.v1.Resources;
import dev.weft.v1.SleepTask;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskSlotsTest {
  private static final long DEADLINE_MS = 10_000;

  private final JobKinds kinds = JobKinds.load(TaskSlotsTest.class.getClassLoader());
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
  private final BlockingQueue<TaskResult> results = new LinkedBlockingQueue<>();
  private final AtomicInteger freed = new AtomicInteger();
  private final AtomicInteger stuckReports = new AtomicInteger();
  private final Map<Long, String> resultThreads = new ConcurrentHashMap<>();
  private TaskSlots slots;

  @AfterEach
  void stop() throws InterruptedException {
    if (slots != null) {
      slots.shutdown(0);
      slots.awaitTermination(DEADLINE_MS);
    }
    timers.shutdownNow();
  }

  private TaskSlots start(int count) {
    return start(count, null);
  }

  private TaskSlots start(int count, dev.weft.kinds.TaskLogs logs) {
    slots =
        new TaskSlots(
            count,
            kinds,
            result -> {
              resultThreads.put(result.getAttemptId(), Thread.currentThread().getName());
              results.add(result);
            },
            new TaskSlots.Listener() {
              @Override
              public void slotFreed() {
                freed.incrementAndGet();
              }

              @Override
              public void stuck(int stuck) {
                stuckReports.incrementAndGet();
              }
            },
            timers,
            logs);
    return slots;
  }

  private static TaskAssignment assignment(long attemptId, String kind, ByteString input) {
    return TaskAssignment.newBuilder()
        .setAttemptId(attemptId)
        .setJobId("j1")
        .setTask((int) attemptId)
        .setAttempt(1)
        .setKind(kind)
        .setInput(input)
        .setGraceMs(100)
        .build();
  }

  private static void await(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
    }
  }

  private TaskResult nextResult() throws InterruptedException {
    TaskResult result = results.poll(DEADLINE_MS, TimeUnit.MILLISECONDS);
    assertNotNull(result, "no result within " + DEADLINE_MS + " ms");
    return result;
  }

  @Test
  void inJvmTasksStopSoonAfterTheirCancel() throws Exception {
    TaskSlots slots = start(2);
    ByteString sleep = SleepTask.newBuilder().setMs(600_000).build().toByteString();
    ByteString primes =
        kinds
            .find("primes")
            .orElseThrow()
            .plan(
                JobSpec.newBuilder()
                    .setPrimes(PrimesParams.newBuilder().setFrom(1).setTo(100_000_000_000L))
                    .setTasks(1)
                    .build())
            .input(0);
    slots.submit(assignment(1, "sleep", sleep));
    slots.submit(assignment(2, "primes", primes));
    await("both tasks run", () -> slots.running() == 2);

    long cancelled = System.nanoTime();
    slots.cancel(List.of(1L, 2L));
    for (int i = 0; i < 2; i++) {
      TaskResult result = nextResult();
      long ms = (System.nanoTime() - cancelled) / 1_000_000;
      System.out.printf("attempt %d stopped %d ms after its cancel%n", result.getAttemptId(), ms);
      assertTrue(result.getCancelled(), result::toString);
      assertEquals(StopOutcome.STOPPED, result.getStop(), result::toString);
      assertTrue(result.getError().startsWith("stopped "), result::toString);
      // The target is 100 ms; the bound is loose because this machine is shared.
      assertTrue(ms < 2_000, "stopped after " + ms + " ms");
    }
    assertEquals(0, slots.busy());
  }

  @Test
  void aTaskIgnoringItsCancelIsReportedStuckAndKeepsItsSlotUntilItReturns(@TempDir Path dir)
      throws Exception {
    TaskSlots slots = start(1);
    Path release = dir.resolve("release");
    slots.submit(assignment(7, "stubborn", StubbornKind.input(release)));
    await("the task runs", () -> slots.running() == 1);

    slots.cancel(List.of(7L));
    TaskResult result = nextResult();
    assertTrue(result.getCancelled(), result::toString);
    assertEquals(StopOutcome.STUCK, result.getStop(), result::toString);
    assertEquals(1, slots.stuck());
    // The listener hears of it just after the result goes out.
    await("the stuck report", () -> stuckReports.get() == 1);
    assertEquals(0, freed.get(), "the slot is still held");

    Files.createFile(release);
    await("the stuck task returns and frees its slot", () -> freed.get() == 1);
    assertEquals(0, slots.stuck());
    assertTrue(results.isEmpty(), "a stuck task reports once: " + results);
  }

  @Test
  void drainingHandsBackQueuedTasksAndLetsRunningOnesFinish() throws Exception {
    TaskSlots slots = start(1);
    ByteString shortSleep = SleepTask.newBuilder().setMs(300).build().toByteString();
    slots.submit(assignment(1, "sleep", shortSleep));
    slots.submit(assignment(2, "sleep", shortSleep));
    slots.submit(assignment(3, "sleep", shortSleep));
    await("the first task runs", () -> slots.running() == 1);

    List<Long> handedBack = slots.handBackUnstarted();
    assertEquals(List.of(2L, 3L), handedBack.stream().sorted().toList());
    assertTrue(slots.awaitIdle(System.nanoTime() + TimeUnit.SECONDS.toNanos(10)));
    TaskResult result = nextResult();
    assertEquals(1, result.getAttemptId());
    assertTrue(result.getOk(), result::toString);
    assertTrue(
        results.poll(200, TimeUnit.MILLISECONDS) == null, "handed-back tasks report nothing");
  }

  private static final ByteString NOOP = NoopTask.getDefaultInstance().toByteString();

  @Test
  void aCheapTaskWithASlotFreeRunsOnTheSubmittingThreadBeforeSubmitReturns() throws Exception {
    TaskSlots slots = start(1);

    slots.submit(assignment(1, "noop", NOOP));

    TaskResult result = results.poll();
    assertNotNull(result, "the result is there when submit returns");
    assertTrue(result.getOk(), result::toString);
    assertEquals(Thread.currentThread().getName(), resultThreads.get(1L));
    assertEquals(0, slots.busy());
  }

  @Test
  void aCheapTaskWithEverySlotTakenWaitsForASlotThread(@TempDir Path dir) throws Exception {
    TaskSlots slots = start(1);
    Path release = dir.resolve("release");
    slots.submit(assignment(1, "stubborn", StubbornKind.input(release)));
    await("the slow task runs", () -> slots.running() == 1);

    slots.submit(assignment(2, "noop", NOOP));
    assertTrue(results.isEmpty(), "no slot was free: " + results);
    assertEquals(2, slots.busy());

    Files.createFile(release);
    assertEquals(1, nextResult().getAttemptId());
    TaskResult noop = nextResult();
    assertEquals(2, noop.getAttemptId());
    assertTrue(noop.getOk(), noop::toString);
    assertTrue(resultThreads.get(2L).startsWith("weft-slot-"), resultThreads::toString);
  }

  @Test
  void aCheapTaskCancelledBeforeItArrivesReportsCancelledOnTheSubmittingThread() throws Exception {
    TaskSlots slots = start(1);
    slots.cancel(List.of(3L));

    slots.submit(assignment(3, "noop", NOOP));

    TaskResult result = results.poll();
    assertNotNull(result, "the result is there when submit returns");
    assertTrue(result.getCancelled(), result::toString);
    assertEquals(StopOutcome.STOPPED, result.getStop(), result::toString);
    assertEquals("cancelled before it started", result.getError());
    assertEquals(Thread.currentThread().getName(), resultThreads.get(3L));
  }

  @Test
  void anInlineTaskCancelledWhileItRunsStopsWithoutInterruptingTheReader() throws Exception {
    TaskSlots slots = start(1);
    AtomicInteger readerInterrupted = new AtomicInteger(-1);
    Thread reader =
        Thread.ofPlatform()
            .name("test-link-reader")
            .start(
                () -> {
                  slots.submit(assignment(4, "patient", ByteString.EMPTY));
                  readerInterrupted.set(Thread.currentThread().isInterrupted() ? 1 : 0);
                });
    await("the inline task runs", () -> slots.running() == 1);
    assertEquals(1, slots.busy());

    // Its slot is taken: a task from another reader waits, even with the slot thread idle.
    slots.submit(assignment(5, "noop", NOOP));
    assertTrue(results.isEmpty(), "one slot, one task at a time: " + results);

    slots.cancel(List.of(4L));
    TaskResult cancelled = nextResult();
    assertEquals(4, cancelled.getAttemptId());
    assertTrue(cancelled.getCancelled(), cancelled::toString);
    assertEquals(StopOutcome.STOPPED, cancelled.getStop(), cancelled::toString);
    assertEquals("test-link-reader", resultThreads.get(4L));
    reader.join(DEADLINE_MS);
    assertFalse(reader.isAlive(), "submit returned");
    assertEquals(0, readerInterrupted.get(), "the reader was not interrupted");

    TaskResult noop = nextResult();
    assertEquals(5, noop.getAttemptId());
    assertTrue(noop.getOk(), noop::toString);
    assertTrue(resultThreads.get(5L).startsWith("weft-slot-"), resultThreads::toString);
    await("every slot free", () -> slots.busy() == 0);
  }

  private static ByteString exec(String... argv) {
    return ExecTask.newBuilder().addAllArgv(List.of(argv)).build().toByteString();
  }

  /** Gone, or a zombie (where nothing reaps orphans). */
  private static boolean gone(long pid) {
    return ProcessStat.of(pid).map(ProcessStat::isZombie).orElse(true);
  }

  @Test
  void anExecTaskPastItsTimeoutIsStoppedAsByACancelAndReportedTimedOut(@TempDir Path dir)
      throws Exception {
    TaskSlots slots = start(1);
    Path pid = dir.resolve("pid");
    ByteString input =
        exec(
            "sh",
            "-c",
            "echo $$ > " + pid + ".tmp && mv " + pid + ".tmp " + pid + "; exec sleep 60");
    long submitted = System.nanoTime();
    slots.submit(assignment(1, "exec", input).toBuilder().setTimeoutMs(500).build());
    await("the task writes its pid", () -> Files.exists(pid));
    long process = Long.parseLong(Files.readString(pid).strip());

    TaskResult result = nextResult();
    long ms = (System.nanoTime() - submitted) / 1_000_000;
    assertTrue(result.getTimedOut(), result::toString);
    assertFalse(result.getOk(), result::toString);
    assertFalse(result.getCancelled(), result::toString);
    assertFalse(result.getApplicationError(), result::toString);
    assertEquals(StopOutcome.EXITED_ON_TERM, result.getStop(), result::toString);
    assertTrue(
        result.getError().startsWith("timed out after 500 ms (--task-timeout); exited on SIGTERM"),
        result::toString);
    assertEquals(128 + 15, result.getExitCode(), result::toString);
    // The timeout, the grace (100 ms) and a second for a shared machine.
    assertTrue(ms < 500 + 100 + 1_000, "reported after " + ms + " ms");
    assertTrue(gone(process), "process " + process + " is gone");
    assertEquals(0, slots.busy());
  }

  @Test
  void anInJvmTaskPastItsTimeoutIsInterruptedAndReportedTimedOut() throws Exception {
    TaskSlots slots = start(1);
    ByteString sleep = SleepTask.newBuilder().setMs(600_000).build().toByteString();
    slots.submit(assignment(1, "sleep", sleep).toBuilder().setTimeoutMs(1_000).build());

    TaskResult result = nextResult();
    assertTrue(result.getTimedOut(), result::toString);
    assertFalse(result.getCancelled(), result::toString);
    assertEquals(StopOutcome.STOPPED, result.getStop(), result::toString);
    assertTrue(
        result.getError().startsWith("timed out after 1 s (--task-timeout); stopped "),
        result::toString);
    assertFalse(result.hasExitCode(), "no process, no exit code: " + result);
  }

  @Test
  void aTaskIgnoringItsTimeoutIsReportedTimedOutAndStuckAndKeepsItsSlot(@TempDir Path dir)
      throws Exception {
    TaskSlots slots = start(1);
    Path release = dir.resolve("release");
    slots.submit(
        assignment(7, "stubborn", StubbornKind.input(release)).toBuilder()
            .setTimeoutMs(200)
            .build());

    TaskResult result = nextResult();
    assertTrue(result.getTimedOut(), result::toString);
    assertFalse(result.getCancelled(), result::toString);
    assertEquals(StopOutcome.STUCK, result.getStop(), result::toString);
    assertTrue(
        result.getError().startsWith("timed out after 200 ms (--task-timeout); still running "),
        result::toString);
    assertEquals(1, slots.stuck());

    Files.createFile(release);
    await("the stuck task returns and frees its slot", () -> freed.get() == 1);
    assertTrue(results.isEmpty(), "a stuck task reports once: " + results);
  }

  @Test
  void theTimeoutCountsFromTheTaskStartNotFromItsArrival() throws Exception {
    TaskSlots slots = start(1);
    // The second task waits in the queue for longer than its timeout, then runs well within it.
    slots.submit(
        assignment(1, "sleep", SleepTask.newBuilder().setMs(1_500).build().toByteString()));
    slots.submit(
        assignment(2, "sleep", SleepTask.newBuilder().setMs(10).build().toByteString()).toBuilder()
            .setTimeoutMs(1_000)
            .build());

    for (int attempt = 1; attempt <= 2; attempt++) {
      TaskResult result = nextResult();
      assertEquals(attempt, result.getAttemptId());
      assertTrue(result.getOk(), result::toString);
    }
  }

  @Test
  void aUserCancelBeforeTheTimeoutIsACancel() throws Exception {
    TaskSlots slots = start(1);
    ByteString sleep = SleepTask.newBuilder().setMs(600_000).build().toByteString();
    slots.submit(assignment(1, "sleep", sleep).toBuilder().setTimeoutMs(60_000).build());
    await("the task runs", () -> slots.running() == 1);

    slots.cancel(List.of(1L));
    TaskResult result = nextResult();
    assertTrue(result.getCancelled(), result::toString);
    assertFalse(result.getTimedOut(), result::toString);
  }

  @Test
  void execTasksKeepTheirOutputInTheLogOfTheirAttempt(@TempDir Path logDir) throws Exception {
    dev.weft.kinds.TaskLogs logs = dev.weft.kinds.TaskLogs.open(logDir, 1 << 20);
    TaskSlots slots = start(1, logs);
    slots.submit(
        assignment(7, "exec", exec("sh", "-c", "echo out; echo err >&2")).toBuilder()
            .setJobId("job/7")
            .setAttempt(2)
            .build());
    assertTrue(nextResult().getOk());
    Path attempt = logs.attemptDirectory("job/7", 7, 2);
    assertEquals(logDir.resolve("job%2F7").resolve("7.2"), attempt);
    assertEquals("out\n", Files.readString(attempt.resolve("stdout.0")));
    assertEquals("err\n", Files.readString(attempt.resolve("stderr.0")));
  }

  @Test
  void execTasksReportTheirExitCodeWhetherTheySucceedOrFail() throws Exception {
    TaskSlots slots = start(1);
    slots.submit(assignment(1, "exec", exec("true")));
    TaskResult succeeded = nextResult();
    assertTrue(succeeded.getOk(), succeeded::toString);
    assertEquals(0, succeeded.getExitCode(), succeeded::toString);

    slots.submit(assignment(2, "exec", exec("sh", "-c", "exit 3")));
    TaskResult failed = nextResult();
    assertTrue(failed.getApplicationError(), failed::toString);
    assertEquals("exit 3", failed.getError());
    assertEquals(3, failed.getExitCode(), failed::toString);

    slots.submit(assignment(3, "sleep", SleepTask.newBuilder().setMs(1).build().toByteString()));
    assertFalse(nextResult().hasExitCode(), "in-JVM tasks have no exit code");
  }

  @Test
  void anExecTaskSeesTheGpusItWasGiven() throws Exception {
    assumeTrue(
        System.getenv("CUDA_VISIBLE_DEVICES") == null,
        "skipped: this JVM has CUDA_VISIBLE_DEVICES set, which the task's would map through");
    TaskSlots slots = start(1);
    slots.submit(
        assignment(1, "exec", exec("printenv", "CUDA_VISIBLE_DEVICES")).toBuilder()
            .addAllGpus(List.of(0, 2))
            .build());
    TaskResult result = nextResult();
    assertTrue(result.getOk(), result::toString);
    assertEquals("0,2\n", ExecTaskOutput.parseFrom(result.getOutput()).getStdoutTail());
  }

  @Test
  void anExecTaskBeyondItsMemoryIsReportedOomKilledAndTheWorkerGoesOn() throws Exception {
    TaskSlots slots = start(1);
    Resources mem = Resources.newBuilder().setMemBytes(32L << 20).build();
    Path mount =
        OwnCgroup.cgroup2Mount(Files.readAllLines(Path.of("/proc/self/mountinfo"))).orElse(null);
    assumeTrue(mount != null, "skipped: no cgroup v2 hierarchy here");
    // Whether this worker can bound its tasks here: the task looks at its own v2 cgroup, and at
    // the v1 memory cgroup this worker makes for it where the controller is bound to v1.
    ProcessStat self = ProcessStat.self();
    String v1 =
        OwnCgroup.v1Directory("memory")
            .map(
                dir ->
                    " '"
                        + dir.resolve(
                            "weft-worker-"
                                + ProcessStat.ownPidNamespace()
                                + "-"
                                + self.pid()
                                + "-"
                                + self.startTicks())
                        + "'/task-*/memory.limit_in_bytes")
            .orElse("");
    slots.submit(
        assignment(
                1,
                "exec",
                exec(
                    "sh",
                    "-c",
                    "cat \""
                        + mount
                        + "$(sed -n 's/^0:://p' /proc/self/cgroup)/memory.max\""
                        + v1
                        + " 2>/dev/null; true"))
            .toBuilder()
            .setResources(mem)
            .build());
    TaskResult probe = nextResult();
    assumeTrue(
        probe.getOk()
            && ExecTaskOutput.parseFrom(probe.getOutput())
                .getStdoutTail()
                .lines()
                .anyMatch("33554432"::equals),
        "skipped: this worker cannot bound its tasks' memory here, in cgroup v2 or v1 (see its"
            + " warning above)");

    // tail keeps the last lines, and /dev/zero has no newline: it keeps all it reads.
    slots.submit(
        assignment(2, "exec", exec("sh", "-c", "head -c 256m /dev/zero | tail")).toBuilder()
            .setResources(mem)
            .build());
    TaskResult killed = nextResult();
    assertFalse(killed.getOk(), killed::toString);
    assertTrue(killed.getApplicationError(), killed::toString);
    assertEquals(
        "killed by the out-of-memory killer: the task exceeded its memory limit of 32 MiB (--mem)",
        killed.getError());
    assertEquals(128 + 9, killed.getExitCode(), killed::toString);

    slots.submit(assignment(3, "exec", exec("true")));
    assertTrue(nextResult().getOk(), "the worker runs the next task");
  }
}
