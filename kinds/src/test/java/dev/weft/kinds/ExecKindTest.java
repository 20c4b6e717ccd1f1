package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.common.base.Suppliers;
import com.google.protobuf.ByteString;
import dev.weft.posix.ProcessStat;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExecResult;
import dev.weft.v1.ExecTask;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.StopOutcome;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExecKindTest {
  private ExecKind kind;
  private ExecutorService executor;
  private final List<ProcessHandle> started = new ArrayList<>();

  @TempDir Path dir;
  @TempDir Path registryBase;

  @BeforeEach
  void startExecutor() {
    ProcessStat self = ProcessStat.self();
    TaskProcessGroups registry =
        new TaskProcessGroups(
            registryBase,
            ProcessStat.ownerUid(self.pid()).orElseThrow(),
            self.pid(),
            self.startTicks());
    kind =
        new ExecKind(
            GroupLauncher::systemDefault,
            () -> registry,
            Suppliers.memoize(TaskCgroups::forThisProcess));
    executor = Executors.newCachedThreadPool();
  }

  @AfterEach
  void cleanUp() throws InterruptedException {
    // Whatever a failed test left running goes too.
    started.forEach(ProcessHandle::destroyForcibly);
    executor.shutdownNow();
    assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
  }

  private static JobSpec spec(List<String> command, List<String> inputs) {
    return JobSpec.newBuilder()
        .setExec(ExecParams.newBuilder().addAllCommand(command).addAllInputs(inputs))
        .build();
  }

  private static JobSpec shell(String script, String... inputs) {
    return spec(List.of("sh", "-c", script), List.of(inputs));
  }

  private static ExecTask task(TaskPlan plan, int i) throws IOException {
    return ExecTask.parseFrom(plan.input(i));
  }

  @Test
  void placeholderIsReplacedInEveryWord() throws Exception {
    TaskPlan plan = kind.plan(spec(List.of("cp", "{}", "out/{}.bak"), List.of("a.txt", "b c")));
    assertEquals(2, plan.taskCount());
    assertEquals(List.of("cp", "a.txt", "out/a.txt.bak"), task(plan, 0).getArgvList());
    assertEquals(List.of("cp", "b c", "out/b c.bak"), task(plan, 1).getArgvList());
    assertEquals("b c", task(plan, 1).getInput());
    assertEquals("input 'a.txt'", plan.describe(0));
  }

  @Test
  void inputIsAppendedWhenNoWordHasAPlaceholder() throws Exception {
    TaskPlan plan = kind.plan(spec(List.of("gzip", "-k"), List.of("x.log")));
    assertEquals(List.of("gzip", "-k", "x.log"), task(plan, 0).getArgvList());
  }

  @Test
  void withoutInputsTasksGetTheirIndex() throws Exception {
    JobSpec spec = spec(List.of("echo", "part-{}"), List.of()).toBuilder().setTasks(3).build();
    TaskPlan plan = kind.plan(spec);
    assertEquals(3, plan.taskCount());
    assertEquals(List.of("echo", "part-2"), task(plan, 2).getArgvList());
    assertEquals("2", task(plan, 2).getInput());
    // No input is appended when the inputs are indices.
    TaskPlan plain = kind.plan(spec(List.of("true"), List.of()));
    assertEquals(1, plain.taskCount());
    assertEquals(List.of("true"), task(plain, 0).getArgvList());
  }

  @Test
  void workdirAndEnvReachTheTask() throws Exception {
    JobSpec spec =
        JobSpec.newBuilder()
            .setExec(
                ExecParams.newBuilder()
                    .addAllCommand(List.of("sh", "-c", "pwd; echo \"$TASK_TEST\"; cat"))
                    .setWorkdir(dir.toString())
                    .putEnv("TASK_TEST", "hello"))
            .build();
    TaskPlan plan = kind.plan(spec);
    // cat would wait for ever on a pipe; stdin is /dev/null, so it ends at once.
    ExecTaskOutput output = ExecTaskOutput.parseFrom(kind.run(plan.input(0), new TestContext()));
    assertEquals(0, output.getExitCode());
    assertEquals(dir.toRealPath() + "\nhello\n", output.getStdoutTail());
    assertEquals("", output.getStderrTail());
  }

  @Test
  void nonZeroExitFailsTheTaskWithItsOutput() throws Exception {
    TaskPlan plan = kind.plan(shell("echo out-{}; echo first >&2; echo err-{} >&2; exit 3", "a"));
    TaskFailedException e =
        assertThrows(TaskFailedException.class, () -> kind.run(plan.input(0), new TestContext()));
    assertEquals("exit 3: err-a", e.getMessage());
    ExecTaskOutput output = ExecTaskOutput.parseFrom(e.output());
    assertEquals(3, output.getExitCode());
    assertEquals("out-a\n", output.getStdoutTail());
    assertEquals("first\nerr-a\n", output.getStderrTail());
    assertTrue(output.getDurationMs() >= 0);

    TaskFailedException silent =
        assertThrows(
            TaskFailedException.class,
            () -> kind.run(kind.plan(shell("exit 1")).input(0), new TestContext()));
    assertEquals("exit 1", silent.getMessage());
  }

  @Test
  void keepsOnlyTheTailOfLargeOutputOnBothStreams() throws Exception {
    // 200,000 lines on each stream: far more than a pipe holds, so both must be read at once.
    TaskPlan plan = kind.plan(shell("seq 1 200000 >&2; seq 1 200000"));
    ExecTaskOutput output = ExecTaskOutput.parseFrom(kind.run(plan.input(0), new TestContext()));
    String all =
        IntStream.rangeClosed(1, 200_000).mapToObj(i -> i + "\n").collect(Collectors.joining());
    String tail = all.substring(all.length() - OutputTail.CAPACITY);
    assertEquals(tail, output.getStdoutTail());
    assertEquals(tail, output.getStderrTail());
  }

  @Test
  void missingProgramCannotStart() throws Exception {
    TaskPlan plan = kind.plan(spec(List.of("/nonexistent/weft-test-program"), List.of()));
    TaskFailedException e =
        assertThrows(TaskFailedException.class, () -> kind.run(plan.input(0), new TestContext()));
    assertEquals(
        "cannot start '/nonexistent/weft-test-program': No such file or directory", e.getMessage());
    assertEquals(ExecKind.CANNOT_START_EXIT, ExecTaskOutput.parseFrom(e.output()).getExitCode());
  }

  @Test
  void missingWorkdirCannotStart() throws Exception {
    Path missing = dir.resolve("missing");
    JobSpec spec =
        JobSpec.newBuilder()
            .setExec(ExecParams.newBuilder().addCommand("true").setWorkdir(missing.toString()))
            .build();
    TaskFailedException e =
        assertThrows(
            TaskFailedException.class, () -> kind.run(kind.plan(spec).input(0), new TestContext()));
    assertEquals("cannot start 'true': no such working directory: " + missing, e.getMessage());
  }

  @Test
  void cancelStopsTheProcessAndItsChildrenPromptly() throws Exception {
    Path pids = dir.resolve("pids");
    // The shell writes its own pid and its background child's, then waits; the rename makes the
    // file appear complete.
    String script = "sleep 30 & echo $$ $! > pids.tmp && mv pids.tmp pids; wait";
    ByteString input = ExecTasks.input(kind, dir, List.of("sh", "-c", script));
    TestContext context = new TestContext(10_000);
    try (WatchService watcher = FileSystems.getDefault().newWatchService()) {
      dir.register(watcher, StandardWatchEventKinds.ENTRY_CREATE);
      Future<ByteString> running = executor.submit(() -> kind.run(input, context));
      awaitFile(watcher, pids, Duration.ofSeconds(10));
      List<ProcessHandle> tree = new ArrayList<>();
      for (String pid : Files.readString(pids).trim().split(" ")) {
        ProcessHandle process = ProcessHandle.of(Long.parseLong(pid)).orElseThrow();
        tree.add(process);
        started.add(process);
      }
      assertTrue(tree.stream().allMatch(ProcessHandle::isAlive));

      long cancelled = System.nanoTime();
      context.cancel();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> running.get(10, TimeUnit.SECONDS));
      TaskCancelledException stop = assertInstanceOf(TaskCancelledException.class, e.getCause());
      assertEquals(StopOutcome.EXITED_ON_TERM, stop.outcome(), stop.detail());
      assertEquals(List.of(128 + 15), context.exits(), "the shell died of SIGTERM");
      for (ProcessHandle process : tree) {
        process.onExit().get(10, TimeUnit.SECONDS);
      }
      // SIGTERM ends both well before sleep 30 would, and before the 10 s grace ran out.
      assertTrue(System.nanoTime() - cancelled < TimeUnit.SECONDS.toNanos(5));
    }
  }

  @Test
  void cancelBeforeStartRunsNothing() throws Exception {
    TestContext context = new TestContext();
    context.cancel();
    ByteString input = ExecTasks.input(kind, dir, List.of("touch", "started"));
    TaskCancelledException stop =
        assertThrows(TaskCancelledException.class, () -> kind.run(input, context));
    assertEquals(StopOutcome.STOPPED, stop.outcome());
    assertFalse(Files.exists(dir.resolve("started")));
  }

  @Test
  void processIgnoringSigtermIsKilledAfterTheGrace() throws Exception {
    Path ready = dir.resolve("ready");
    String script = "trap '' TERM; echo $$ > ready.tmp && mv ready.tmp ready; while :; do :; done";
    ByteString input = ExecTasks.input(kind, dir, List.of("sh", "-c", script));
    TestContext context = new TestContext(200);
    try (WatchService watcher = FileSystems.getDefault().newWatchService()) {
      dir.register(watcher, StandardWatchEventKinds.ENTRY_CREATE);
      Future<ByteString> running = executor.submit(() -> kind.run(input, context));
      awaitFile(watcher, ready, Duration.ofSeconds(10));
      ProcessHandle shell =
          ProcessHandle.of(Long.parseLong(Files.readString(ready).trim())).orElseThrow();
      started.add(shell);
      context.cancel();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> running.get(10, TimeUnit.SECONDS));
      TaskCancelledException stop = assertInstanceOf(TaskCancelledException.class, e.getCause());
      assertEquals(StopOutcome.KILLED, stop.outcome(), stop.detail());
      shell.onExit().get(10, TimeUnit.SECONDS);
    }
  }

  private static void awaitFile(WatchService watcher, Path file, Duration timeout)
      throws InterruptedException, TimeoutException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!Files.exists(file)) {
      long left = deadline - System.nanoTime();
      WatchKey key = left > 0 ? watcher.poll(left, TimeUnit.NANOSECONDS) : null;
      if (key == null) {
        throw new TimeoutException(file + " did not appear within " + timeout);
      }
      key.pollEvents();
      key.reset();
    }
  }

  @Test
  void reductionKeepsOutcomesInTaskOrder() throws Exception {
    JobSpec spec = shell("echo {}; test {} != b", "a", "b", "c");
    TaskPlan plan = kind.plan(spec);
    List<ByteString> outputs = new ArrayList<>();
    for (int i = 0; i < plan.taskCount(); i++) {
      try {
        outputs.add(kind.run(plan.input(i), new TestContext()));
      } catch (TaskFailedException e) {
        assertEquals("exit 1", e.getMessage());
        outputs.add(e.output());
      }
    }
    List<Integer> order = new ArrayList<>(List.of(0, 1, 2));
    Collections.reverse(order);
    JobReduction reduction = kind.reduction(spec, plan);
    for (int i : order) {
      reduction.add(i, outputs.get(i));
      reduction.add(i, outputs.get(i));
    }
    JobResult result = reduction.result();
    ExecResult exec = result.getExec();
    assertEquals(2, exec.getSucceeded());
    assertEquals(1, exec.getFailed());
    assertEquals("2 tasks succeeded, 1 failed", result.getSummary());
    assertEquals(3, exec.getTasksCount());
    ExecOutcome second = exec.getTasks(1);
    assertEquals(1, second.getTask());
    assertEquals("b", second.getInput());
    assertEquals(1, second.getExitCode());
    assertEquals("b\n", second.getStdoutTail());
    assertEquals("c", exec.getTasks(2).getInput());
    assertEquals(0, exec.getTasks(2).getExitCode());
  }

  @Test
  void summaryOfAllSucceeded() throws Exception {
    JobResult result =
        KindHarness.runJob(kind, spec(List.of("true"), List.of()).toBuilder().setTasks(12).build());
    assertEquals("12 tasks succeeded", result.getSummary());
    assertEquals(12, result.getExec().getSucceeded());
    assertEquals(
        "1 task succeeded",
        KindHarness.runJob(kind, spec(List.of("true"), List.of())).getSummary());
  }

  @Test
  void reductionRejectsGarbage() throws Exception {
    JobSpec spec = shell("true");
    JobReduction reduction = kind.reduction(spec, kind.plan(spec));
    InvalidTaskOutputException e =
        assertThrows(
            InvalidTaskOutputException.class,
            () -> reduction.add(0, ByteString.copyFrom(new byte[] {0x12, 0x09, 'x'})));
    assertNotNull(e.getCause());
  }

  @Test
  void rejectsBadSpecs() {
    assertInvalid(
        "exec.command: must name a program to run (got an empty command)",
        spec(List.of(), List.of()));
    assertInvalid(
        "exec.command: the first word must name a program (got '  ')",
        spec(List.of("  ", "x"), List.of()));
    assertInvalid(
        "exec.command: the word at index 1 contains a NUL character",
        spec(List.of("echo", "a\0b"), List.of()));
    assertInvalid(
        "exec.inputs: the input at index 1 contains a NUL character",
        spec(List.of("echo"), List.of("a", "b\0")));
    assertInvalid(
        "tasks: exec runs one task per input; leave tasks at 0 when exec.inputs is set"
            + " (got tasks=3 with 2 inputs)",
        spec(List.of("echo"), List.of("a", "b")).toBuilder().setTasks(3).build());
    assertInvalid(
        "task_size: not used by exec jobs, which run one task per input; set exec.inputs or"
            + " tasks (got 5)",
        spec(List.of("echo"), List.of()).toBuilder().setTaskSize(5).build());
    assertInvalid(
        "exec.env: variable names must be non-empty, without '=' or NUL (got 'A=B')",
        JobSpec.newBuilder()
            .setExec(ExecParams.newBuilder().addCommand("env").putEnv("A=B", "c"))
            .build());
    assertInvalid(
        "exec.env: names starting with WEFT_ are weft's own settings, which tasks never see;"
            + " choose another name (got 'WEFT_TOKEN')",
        JobSpec.newBuilder()
            .setExec(ExecParams.newBuilder().addCommand("env").putEnv("WEFT_TOKEN", "mine"))
            .build());
    assertInvalid(
        "tasks: must be between 1 and 1000000, or 0 for the kind's default (got 1000001)",
        spec(List.of("echo"), List.of()).toBuilder().setTasks(1_000_001).build());
    List<String> tooMany = Collections.nCopies(JobKinds.MAX_TASKS + 1, "x");
    assertInvalid(
        "exec.inputs: at most 1000000 inputs per job (got 1000001)",
        spec(List.of("echo"), tooMany));
  }

  private void assertInvalid(String message, JobSpec spec) {
    InvalidJobException e = assertThrows(InvalidJobException.class, () -> kind.plan(spec));
    assertEquals(message, e.getMessage());
    assertTrue(message.startsWith(e.field() + ": "));
  }

  @Test
  void helpers() {
    assertEquals("last", ExecKind.lastLine("first\nlast\n\n"));
    assertEquals("", ExecKind.lastLine(""));
    assertEquals(203, ExecKind.lastLine("x".repeat(500)).length());
    assertEquals(
        "No such file or directory",
        ExecKind.startFailureReason(
            new IOException("Cannot run program \"x\": error=2, No such file or directory")));
    assertEquals(
        "Permission denied",
        ExecKind.startFailureReason(
            new IOException(
                "Cannot run program \"x\": Exec failed, error: 13 (Permission denied) ")));
    assertEquals("odd", ExecKind.startFailureReason(new IOException("odd")));
    assertEquals(List.of("a", "{x}"), ExecKind.argv(List.of("a", "{x}"), "in", false));
    assertEquals(List.of("in-in"), ExecKind.argv(List.of("{}-{}"), "in", true));
    assertEquals("100 bytes", ExecKind.size(100));
    assertEquals("32 MiB", ExecKind.size(32L << 20));
    assertEquals("1.5 GiB", ExecKind.size(3L << 29));
    assertEquals("2 GiB", ExecKind.size(2L << 30));
    assertEquals(
        "killed by the out-of-memory killer: the task exceeded its memory limit of 2 GiB (--mem)",
        ExecKind.oomKilled(2L << 30));
    assertEquals(
        "killed by the out-of-memory killer: its worker's host or cgroup ran out of memory",
        ExecKind.oomKilled(0));
  }

  @Test
  void theExitCodeIsReportedHoweverTheTaskEnds() throws Exception {
    TestContext succeeded = new TestContext();
    kind.run(kind.plan(shell("exit 0")).input(0), succeeded);
    assertEquals(List.of(0), succeeded.exits());

    TestContext failed = new TestContext();
    assertThrows(
        TaskFailedException.class, () -> kind.run(kind.plan(shell("exit 3")).input(0), failed));
    assertEquals(List.of(3), failed.exits());

    // As a shell reports a command it cannot run.
    TestContext missing = new TestContext();
    ByteString input = kind.plan(spec(List.of("/nonexistent/weft-test", "x"), List.of())).input(0);
    assertThrows(TaskFailedException.class, () -> kind.run(input, missing));
    assertEquals(List.of(ExecKind.CANNOT_START_EXIT), missing.exits());
  }

  @Test
  void aTaskGivenGpusSeesThemAloneInCudaVisibleDevices() throws Exception {
    assumeTrue(
        System.getenv(ExecKind.GPU_ENV) == null,
        "skipped: this JVM has " + ExecKind.GPU_ENV + " set, which the task would map through");
    ByteString input = kind.plan(spec(List.of("printenv", ExecKind.GPU_ENV), List.of())).input(0);
    TestContext given = new TestContext(new TaskResources(0, 0, List.of(0, 2)));
    ExecTaskOutput output = ExecTaskOutput.parseFrom(kind.run(input, given));
    assertEquals("0,2\n", output.getStdoutTail());

    // The coordinator's choice beats a job's own value.
    JobSpec ownValue =
        JobSpec.newBuilder()
            .setExec(
                ExecParams.newBuilder()
                    .addAllCommand(List.of("printenv", ExecKind.GPU_ENV))
                    .putEnv(ExecKind.GPU_ENV, "7"))
            .build();
    output =
        ExecTaskOutput.parseFrom(
            kind.run(
                kind.plan(ownValue).input(0),
                new TestContext(new TaskResources(0, 0, List.of(1)))));
    assertEquals("1\n", output.getStdoutTail());

    // A task given no GPU gets no variable at all (printenv exits 1), not an empty one.
    TestContext none = new TestContext();
    TaskFailedException unset =
        assertThrows(TaskFailedException.class, () -> kind.run(input, none));
    assertEquals(List.of(1), none.exits());
    assertEquals("", ExecTaskOutput.parseFrom(unset.output()).getStdoutTail());
  }

  @Test
  void gpuIndicesMapThroughTheWorkersOwnCudaVisibleDevices() {
    assertEquals("0,2", ExecKind.visibleDevices(List.of(0, 2), null));
    assertEquals("0,2", ExecKind.visibleDevices(List.of(0, 2), " "));
    assertEquals("GPU-aa,GPU-cc", ExecKind.visibleDevices(List.of(0, 2), "GPU-aa, GPU-bb,GPU-cc"));
    assertEquals("3", ExecKind.visibleDevices(List.of(1), "2,3"));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> ExecKind.visibleDevices(List.of(0, 2), "4,5"));
    assertEquals(
        "the task was given GPU 2, but this worker sees only 2 (CUDA_VISIBLE_DEVICES=4,5); give it"
            + " no more with --resources gpu=N",
        e.getMessage());
  }
}
