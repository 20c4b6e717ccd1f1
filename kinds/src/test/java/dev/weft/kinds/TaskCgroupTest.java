package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.weft.posix.OwnCgroup;
import dev.weft.posix.ProcessStat;
import dev.weft.posix.Signals;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.JobSpec;
import dev.weft.v1.StopOutcome;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exec tasks in cgroups of their own: what leaves the task's process group (setsid) is still
 * cancelled, killed when the task ends, and swept after its worker dies; bounded by what they ask,
 * through the v2 controllers or, where the controllers are bound to v1 (a "hybrid" host), the v1
 * hierarchies. Needs a cgroup v2 hierarchy this process may make cgroups in (root here); skipped,
 * saying why, without one, as are the bounds' tests where neither carries the controller.
 */
class TaskCgroupTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final long SHORT_GRACE_MS = 300;

  @TempDir Path dir;
  @TempDir Path registryBase;

  private final List<Long> escaped = new ArrayList<>();
  private final List<Process> processes = new ArrayList<>();
  private ExecutorService executor;
  private Path parent;
  private Map<String, Path> v1Parents;
  private TaskCgroups cgroups;
  private ExecKind kind;

  @BeforeEach
  void setUp() throws IOException {
    Optional<Path> own = OwnCgroup.directory();
    assumeTrue(own.isPresent(), "skipped: this process is in no cgroup v2 hierarchy it can see");
    assumeTrue(
        Files.isWritable(own.get()),
        "skipped: this process may not make cgroups in "
            + own.get()
            + " (not root, no delegation)");
    parent = own.get();
    v1Parents = TaskCgroups.v1Parents();
    ProcessStat self = ProcessStat.self();
    cgroups =
        new TaskCgroups(
            parent, v1Parents, ProcessStat.ownPidNamespace(), self.pid(), self.startTicks());
    TaskProcessGroups registry =
        new TaskProcessGroups(
            registryBase,
            ProcessStat.ownerUid(self.pid()).orElseThrow(),
            self.pid(),
            self.startTicks());
    kind = new ExecKind(GroupLauncher::systemDefault, () -> registry, () -> Optional.of(cgroups));
    executor = Executors.newCachedThreadPool();
  }

  @AfterEach
  void cleanUp() throws InterruptedException {
    if (executor == null) {
      return;
    }
    for (long pid : escaped) {
      Signals.kill(pid, Signals.SIGKILL);
    }
    processes.forEach(Process::destroyForcibly);
    executor.shutdownNow();
    assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
    assertEquals(List.of(), workerCgroups(), "every task cgroup is removed");
    for (Path v1 : cgroups.v1WorkerDirs()) {
      assertFalse(Files.exists(v1), "every v1 task cgroup is removed: " + v1);
    }
  }

  private ByteString task(String script) throws InvalidJobException, IOException {
    return ExecTasks.shell(kind, dir, script);
  }

  /** The pid a task wrote to {@code file} once it is there, kept to be killed if a test fails. */
  private long escapedPid(String file) throws IOException {
    await(() -> Files.exists(dir.resolve("ready")), "the task to start its escapee");
    long pid = Long.parseLong(Files.readString(dir.resolve(file)).strip());
    escaped.add(pid);
    return pid;
  }

  @Test
  void aTaskRunsInACgroupOfItsOwnUnderTheWorkers() throws Exception {
    ExecTaskOutput output =
        ExecTaskOutput.parseFrom(kind.run(task("cat /proc/self/cgroup"), new TestContext()));
    String cgroup =
        output.getStdoutTail().lines().filter(l -> l.startsWith("0::")).findFirst().orElseThrow();
    ProcessStat self = ProcessStat.self();
    assertTrue(
        cgroup.matches(
            "0::.*/weft-worker-"
                + ProcessStat.ownPidNamespace()
                + "-"
                + self.pid()
                + "-"
                + self.startTicks()
                + "/task-\\d+"),
        cgroup);
  }

  @Test
  void aProcessThatLeftTheTasksGroupStillGetsTheCancel() throws Exception {
    ByteString input = task("setsid sleep 300 & echo $! > escaped; touch ready; wait");
    TestContext context = new TestContext(10_000);
    Future<ByteString> result = executor.submit(() -> kind.run(input, context));
    long pid = escapedPid("escaped");
    // $! is known before the child has run setsid: wait until it has.
    await(
        () -> ProcessStat.of(pid).map(stat -> stat.processGroup() == pid).orElse(false),
        "the escapee to lead a group (and session) of its own");

    TaskCancelledException stop = cancel(context, result);
    assertEquals(StopOutcome.EXITED_ON_TERM, stop.outcome(), stop.detail());
    assertGone(pid);
  }

  @Test
  void aProcessThatLeftTheGroupAndIgnoresSigtermIsKilledAfterTheGrace() throws Exception {
    // The escapee says it is ready itself, once its SIGTERM is ignored.
    ByteString input =
        task(
            "setsid sh -c \"trap '' TERM; echo \\$\\$ > escaped; touch ready; exec sleep 300\""
                + " & wait");
    TestContext context = new TestContext(SHORT_GRACE_MS);
    Future<ByteString> result = executor.submit(() -> kind.run(input, context));
    long pid = escapedPid("escaped");

    TaskCancelledException stop = cancel(context, result);
    assertEquals(StopOutcome.KILLED, stop.outcome(), stop.detail());
    assertGone(pid);
  }

  @Test
  void whatLeftTheGroupIsKilledWhenTheTaskEnds() throws Exception {
    // The escapee holds the task's stdout open: without the kill the output would not end.
    ByteString input = task("setsid sleep 300 & echo $! > escaped; touch ready; echo done");
    long started = System.nanoTime();
    ExecTaskOutput output = ExecTaskOutput.parseFrom(kind.run(input, new TestContext()));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    System.out.printf("a task whose child left its group returned after %d ms%n", ms);
    assertEquals("done\n", output.getStdoutTail());
    assertGone(escapedPid("escaped"));
  }

  @Test
  void theSweepKillsWhatADeadWorkerLeftInItsCgroups() throws Exception {
    // A stand-in worker: a process started here, running a task in a cgroup, then killed.
    Process worker = new ProcessBuilder("sleep", "300").start();
    processes.add(worker);
    long pidNamespace = ProcessStat.ownPidNamespace();
    TaskCgroups deadWorkers =
        new TaskCgroups(
            parent,
            pidNamespace,
            worker.pid(),
            ProcessStat.of(worker.pid()).orElseThrow().startTicks());
    // A worker of another pid namespace: its pid means nothing here, so it is never swept.
    TaskCgroups elsewhere = new TaskCgroups(parent, pidNamespace + 1, worker.pid(), 1);
    TaskCgroup foreign = elsewhere.create().orElseThrow();
    TaskCgroup orphan = deadWorkers.create().orElseThrow();
    Process leftover =
        new ProcessBuilder(
                orphan.enter(
                    List.of("sh", "-c", "setsid sleep 300 & echo $! > escaped; touch ready; wait")))
            .directory(dir.toFile())
            .start();
    processes.add(leftover);
    long pid = escapedPid("escaped");

    cgroups.sweepOrphans(); // the stand-in still runs: its task's processes must stay
    assertTrue(ProcessStat.of(pid).map(stat -> !stat.isZombie()).orElse(false));
    assertTrue(Files.exists(orphan.dir()));
    worker.destroyForcibly();
    assertTrue(worker.waitFor(10, TimeUnit.SECONDS));

    // At least ours (a dead worker of an earlier run may have left more on this machine).
    assertTrue(cgroups.sweepOrphans() >= 1);
    assertGone(pid);
    assertTrue(leftover.waitFor(10, TimeUnit.SECONDS));
    assertFalse(Files.exists(orphan.dir()), "the dead worker's cgroups are removed");
    assertTrue(Files.exists(foreign.dir()), "another pid namespace's are left alone");
    foreign.close();
    assertFalse(Files.exists(foreign.dir().getParent()));
  }

  @Test
  void theSweepRemovesTheV1CgroupsADeadWorkerLeft() throws Exception {
    TaskResources asked = new TaskResources(0, 64L << 20, List.of());
    assumeTrue(
        boundsFor(asked, "memory", "memory.max") == Bounds.V1,
        "skipped: task cgroups here are not bounded through a v1 memory hierarchy");
    Process worker = new ProcessBuilder("sleep", "300").start();
    processes.add(worker);
    long pidNamespace = ProcessStat.ownPidNamespace();
    long workerStart = ProcessStat.of(worker.pid()).orElseThrow().startTicks();
    TaskCgroups deadWorkers =
        new TaskCgroups(parent, v1Parents, pidNamespace, worker.pid(), workerStart);
    TaskCgroups elsewhere = new TaskCgroups(parent, v1Parents, pidNamespace + 1, worker.pid(), 1);
    TaskCgroup foreign = elsewhere.create(asked).orElseThrow();
    TaskCgroup orphan = deadWorkers.create(asked).orElseThrow();
    Path orphanV1 = orphan.v1Dir("memory").orElseThrow();
    Process leftover =
        new ProcessBuilder(
                orphan.enter(
                    List.of("sh", "-c", "setsid sleep 300 & echo $! > escaped; touch ready; wait")))
            .directory(dir.toFile())
            .start();
    processes.add(leftover);
    long pid = escapedPid("escaped");
    // A v1 cgroup the dead worker left without its v2 one (its sweep cut short): the v1 sweep
    // kills what is in it by itself.
    Path strayV1 = orphanV1.resolveSibling("task-999999");
    Files.createDirectory(strayV1);
    Process stray =
        new ProcessBuilder(new TaskCgroup(strayV1, () -> {}).enter(List.of("sleep", "300")))
            .start();
    processes.add(stray);
    await(() -> !TaskCgroup.pidsIn(strayV1).isEmpty(), "the stray to enter its v1 cgroup");

    cgroups.sweepOrphans(); // the stand-in still runs: its cgroups must stay
    assertTrue(Files.exists(orphanV1));
    assertTrue(stray.isAlive());
    worker.destroyForcibly();
    assertTrue(worker.waitFor(10, TimeUnit.SECONDS));

    assertTrue(cgroups.sweepOrphans() >= 2, "the v2 cgroup's leftover and the stray's");
    assertGone(pid);
    assertTrue(leftover.waitFor(10, TimeUnit.SECONDS));
    assertTrue(stray.waitFor(10, TimeUnit.SECONDS));
    assertFalse(Files.exists(orphanV1), "the dead worker's v1 task cgroups are removed");
    assertFalse(Files.exists(strayV1));
    assertFalse(Files.exists(orphanV1.getParent()), "and its v1 directory");
    Path foreignV1 = foreign.v1Dir("memory").orElseThrow();
    assertTrue(Files.exists(foreignV1), "another pid namespace's are left alone");
    foreign.close();
    assertFalse(Files.exists(foreignV1.getParent()), "its last task takes its v1 directory along");
  }

  @Test
  void boundsAreWrittenAsTheKernelReadsThem(@TempDir Path fake) throws IOException {
    // A directory standing in for a task cgroup whose kernel accounts swap and has oom.group.
    Files.writeString(fake.resolve("memory.swap.max"), "max\n");
    Files.writeString(fake.resolve("memory.oom.group"), "0\n");
    TaskCgroup cgroup = new TaskCgroup(fake, () -> {});

    cgroup.limitMemory(32L << 20);
    cgroup.limitCpu(1_500);
    assertEquals("33554432", Files.readString(fake.resolve("memory.max")));
    assertEquals("0", Files.readString(fake.resolve("memory.swap.max")));
    assertEquals("1", Files.readString(fake.resolve("memory.oom.group")));
    assertEquals("150000 100000", Files.readString(fake.resolve("cpu.max")));
    cgroup.limitCpu(1); // below the kernel's smallest quota, which it gets instead
    assertEquals("1000 100000", Files.readString(fake.resolve("cpu.max")));

    assertEquals(0, cgroup.oomKills(), "no memory.events: no memory controller, no kills known");
    Files.writeString(
        fake.resolve("memory.events"),
        "low 0\nhigh 0\nmax 40\noom 1\noom_kill 1\noom_group_kill 1\n");
    assertEquals(1, cgroup.oomKills());
  }

  @Test
  void withoutSwapAccountingOnlyTheMemoryBoundIsWritten(@TempDir Path fake) throws IOException {
    new TaskCgroup(fake, () -> {}).limitMemory(1L << 30);
    try (Stream<Path> files = Files.list(fake)) {
      assertEquals(List.of("memory.max"), files.map(f -> f.getFileName().toString()).toList());
    }
  }

  @Test
  void v1BoundsAreWrittenAsTheKernelReadsThem(@TempDir Path fake) throws IOException {
    // A directory standing in for v1 memory and cpu cgroups, with swap accounting.
    Files.writeString(fake.resolve("memory.memsw.limit_in_bytes"), "9223372036854771712\n");
    V1TaskCgroups.limitMemory(fake, 32L << 20);
    V1TaskCgroups.limitCpu(fake, 1_500);
    assertEquals("33554432", Files.readString(fake.resolve("memory.limit_in_bytes")));
    assertEquals("33554432", Files.readString(fake.resolve("memory.memsw.limit_in_bytes")));
    assertEquals("100000", Files.readString(fake.resolve("cpu.cfs_period_us")));
    assertEquals("150000", Files.readString(fake.resolve("cpu.cfs_quota_us")));
    V1TaskCgroups.limitCpu(fake, 1); // below the kernel's smallest quota, which it gets instead
    assertEquals("1000", Files.readString(fake.resolve("cpu.cfs_quota_us")));
  }

  @Test
  void withoutV1SwapAccountingOnlyTheMemoryLimitIsWritten(@TempDir Path fake) throws IOException {
    V1TaskCgroups.limitMemory(fake, 1L << 30);
    try (Stream<Path> files = Files.list(fake)) {
      assertEquals(
          List.of("memory.limit_in_bytes"), files.map(f -> f.getFileName().toString()).toList());
    }
  }

  @Test
  void oomKillsAreReadFromTheV1MemoryCgroupTheTaskEntered(@TempDir Path fake) throws IOException {
    Path v2 = Files.createDirectory(fake.resolve("v2"));
    Path v1 = Files.createDirectory(fake.resolve("v1"));
    TaskCgroup cgroup = new TaskCgroup(v2, () -> {});
    cgroup.alsoEnter("memory", v1);
    assertEquals(0, cgroup.oomKills(), "no memory.oom_control: no kills known");
    // memory.failcnt counts reclaim as well as kills: only oom_kill says the killer struck.
    Files.writeString(v1.resolve("memory.failcnt"), "1234\n");
    Files.writeString(v1.resolve("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\n");
    assertEquals(0, cgroup.oomKills(), "a kernel older than 4.13 says nothing of kills");
    Files.writeString(
        v1.resolve("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    assertEquals(2, cgroup.oomKills());
  }

  @Test
  void aTaskThatCannotEnterOneOfItsCgroupsFailsWith125SayingWhich(@TempDir Path fake)
      throws Exception {
    // Plain directories take the write to cgroup.procs; a missing one does not.
    Path missing = fake.resolve("memory/weft-worker-1-2-3/task-1");
    TaskCgroup cgroup = new TaskCgroup(fake, () -> {});
    cgroup.alsoEnter("memory", missing);
    Process task =
        new ProcessBuilder(cgroup.enter(List.of("echo", "ran")))
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    String stdout = new String(task.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String stderr = new String(task.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(task.waitFor(10, TimeUnit.SECONDS));
    assertEquals(125, task.exitValue());
    assertEquals("", stdout, "the command did not run");
    assertTrue(
        stderr.endsWith("weft: cannot move the task into its cgroup " + missing + "\n"), stderr);
    assertEquals("0\n", Files.readString(fake.resolve("cgroup.procs")), "the first was entered");
  }

  /**
   * Skips the test unless a task cgroup made here is bounded through {@code controller} for {@code
   * asked}: in v2 (it gets {@code v2File}) its controller must be available to this process's
   * cgroup, and that cgroup the root or this process's alone; in v1, the controller's v1 hierarchy
   * mounted and writable.
   */
  private void assumeBounded(TaskResources asked, String controller, String v2File) {
    Bounds bounds = boundsFor(asked, controller, v2File);
    assumeTrue(
        bounds != Bounds.NONE,
        "skipped: task cgroups here get no "
            + controller
            + " bound: no "
            + v2File
            + " (the controller is not available to "
            + parent
            + ", or others share that cgroup) and no v1 hierarchy of it to use; the worker's"
            + " warning above says which");
  }

  private enum Bounds {
    V2,
    V1,
    NONE
  }

  /** Where a task cgroup made here for {@code asked} gets its {@code controller} bound. */
  private Bounds boundsFor(TaskResources asked, String controller, String v2File) {
    TaskCgroup probe = cgroups.create(asked).orElse(null);
    assumeTrue(probe != null, "skipped: no task cgroup can be made here");
    try {
      if (Files.exists(probe.dir().resolve(v2File))) {
        return Bounds.V2;
      }
      return probe.v1Dir(controller).isPresent() ? Bounds.V1 : Bounds.NONE;
    } finally {
      probe.close();
    }
  }

  @Test
  void aTaskRunsUnderTheMemoryAndCpuBoundsItAskedFor() throws Exception {
    TaskResources asked = new TaskResources(1_500, 64L << 20, List.of());
    assumeTrue(
        boundsFor(asked, "memory", "memory.max") == Bounds.V2
            && boundsFor(asked, "cpu", "cpu.max") == Bounds.V2,
        "skipped: the memory and cpu controllers are not both available to task cgroups in"
            + " cgroup v2 here (see the v1 test beside)");
    Path mount =
        OwnCgroup.cgroup2Mount(Files.readAllLines(Path.of("/proc/self/mountinfo"))).orElseThrow();
    // The task reads the files of the cgroup it runs in, so they were there before it started.
    String script =
        "d=\""
            + mount
            + "$(sed -n 's/^0:://p' /proc/self/cgroup)\"; cat \"$d/memory.max\" \"$d/cpu.max\";"
            + " cat \"$d/memory.swap.max\" 2>/dev/null || echo no-swap-accounting";
    ExecTaskOutput output =
        ExecTaskOutput.parseFrom(kind.run(task(script), new TestContext(asked)));
    List<String> lines = output.getStdoutTail().lines().toList();
    assertEquals(List.of("67108864", "150000 100000"), lines.subList(0, 2), output.toString());
    assertTrue(List.of("0", "no-swap-accounting").contains(lines.get(2)), output.toString());
  }

  @Test
  void onAHybridHostATaskRunsUnderTheBoundsItAskedForInTheV1Hierarchies() throws Exception {
    TaskResources asked = new TaskResources(1_500, 64L << 20, List.of());
    assumeTrue(
        boundsFor(asked, "memory", "memory.max") == Bounds.V1
            && boundsFor(asked, "cpu", "cpu.max") == Bounds.V1,
        "skipped: task cgroups here are not bounded through v1 memory and cpu hierarchies (the"
            + " controllers are in cgroup v2, or no v1 hierarchy of them is mounted and writable)");
    ProcessStat self = ProcessStat.self();
    String workerDir =
        TaskCgroups.workerDirName(ProcessStat.ownPidNamespace(), self.pid(), self.startTicks());
    Path memory = v1Parents.get("memory").resolve(workerDir);
    Path cpu = v1Parents.get("cpu").resolve(workerDir);
    // The task reads its cgroups' files while it runs; the only task, its cgroups are task-*.
    String script =
        "m='"
            + memory
            + "'/task-*; c='"
            + cpu
            + "'/task-*; cat $m/memory.limit_in_bytes $c/cpu.cfs_quota_us $c/cpu.cfs_period_us;"
            + " cat $m/memory.memsw.limit_in_bytes 2>/dev/null || echo no-swap-accounting;"
            + " grep -qx $$ $m/cgroup.procs && grep -qx $$ $c/cgroup.procs && echo inside both";
    ExecTaskOutput output =
        ExecTaskOutput.parseFrom(kind.run(task(script), new TestContext(asked)));
    List<String> lines = output.getStdoutTail().lines().toList();
    assertEquals(5, lines.size(), output.toString());
    assertEquals(List.of("67108864", "150000", "100000"), lines.subList(0, 3), output.toString());
    assertTrue(List.of("67108864", "no-swap-accounting").contains(lines.get(3)), output.toString());
    assertEquals("inside both", lines.get(4), output.toString());
  }

  @Test
  void aTaskBeyondItsMemoryIsKilledByTheOomKillerAndSaysSo() throws Exception {
    TaskResources asked = new TaskResources(0, 32L << 20, List.of());
    assumeBounded(asked, "memory", "memory.max");
    // tail keeps the last lines, and /dev/zero has no newline: it keeps all it reads.
    TestContext context = new TestContext(asked);
    TaskFailedException e =
        assertThrows(
            TaskFailedException.class,
            () -> kind.run(task("head -c 256m /dev/zero | tail"), context));
    assertEquals(
        "killed by the out-of-memory killer: the task exceeded its memory limit of 32 MiB (--mem)",
        e.getMessage());
    assertEquals(List.of(128 + 9), context.exits(), "the task died of SIGKILL");
    assertEquals(128 + 9, ExecTaskOutput.parseFrom(e.output()).getExitCode());
  }

  @Test
  void aWorkerAloneInItsCgroupMovesAsideSoThatItsTasksGetControllers() throws Exception {
    // The root cgroup may hand controllers down with processes in it; below it, a cgroup holding
    // only this JVM stands in for a worker's own. hugetlb is a domain controller nothing here uses.
    assumeTrue(
        !Files.exists(parent.resolve("cgroup.type")),
        "skipped: this JVM is not in the root cgroup, under which the test makes the worker's");
    assumeTrue(
        Files.readString(parent.resolve("cgroup.controllers")).contains("hugetlb")
            && Files.isDirectory(Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB")),
        "skipped: no hugetlb controller with 2 MB pages to hand down");
    ProcessStat self = ProcessStat.self();
    Path alone = parent.resolve("weft-test-alone-" + self.pid());
    boolean enabledAbove =
        !Files.readString(parent.resolve("cgroup.subtree_control")).contains("hugetlb");
    Files.createDirectory(alone);
    TaskCgroups moving =
        new TaskCgroups(alone, ProcessStat.ownPidNamespace(), self.pid(), self.startTicks());
    Path workerDir =
        alone.resolve(
            TaskCgroups.workerDirName(
                ProcessStat.ownPidNamespace(), self.pid(), self.startTicks()));
    List<TaskCgroup> made = new ArrayList<>();
    try {
      if (enabledAbove) {
        Files.writeString(parent.resolve("cgroup.subtree_control"), "+hugetlb");
      }
      Files.writeString(alone.resolve("cgroup.procs"), Long.toString(self.pid()));
      made.add(moving.create().orElseThrow());

      assertEquals(
          Optional.empty(), moving.v2Controller(made.getFirst(), "hugetlb", "hugetlb.2MB.max"));
      assertEquals(Optional.of(workerDir.resolve("worker")), OwnCgroup.directory());
      assertEquals(
          alone,
          TaskCgroups.startCgroup(
              OwnCgroup.directory().orElseThrow(), workerDir.getFileName().toString()));
      assertTrue(Files.readString(alone.resolve("cgroup.subtree_control")).contains("hugetlb"));
      assertTrue(Files.readString(workerDir.resolve("cgroup.subtree_control")).contains("hugetlb"));
      // Tasks still enter their cgroups from the worker's new place.
      ExecKind moved =
          new ExecKind(
              GroupLauncher::systemDefault,
              () ->
                  new TaskProcessGroups(
                      registryBase,
                      ProcessStat.ownerUid(self.pid()).orElseThrow(),
                      self.pid(),
                      self.startTicks()),
              () -> Optional.of(moving));
      ExecTaskOutput output =
          ExecTaskOutput.parseFrom(moved.run(task("cat /proc/self/cgroup"), new TestContext()));
      assertTrue(
          output.getStdoutTail().contains("0::/" + parent.relativize(workerDir) + "/task-"),
          output.getStdoutTail());
    } finally {
      // This JVM goes back where it was, and the stand-in's cgroups and hugetlb go.
      Files.writeString(parent.resolve("cgroup.procs"), Long.toString(self.pid()));
      made.forEach(TaskCgroup::close);
      Files.deleteIfExists(workerDir.resolve("worker"));
      Files.deleteIfExists(workerDir);
      Files.deleteIfExists(alone);
      if (enabledAbove) {
        Files.writeString(parent.resolve("cgroup.subtree_control"), "-hugetlb");
      }
    }
  }

  @Test
  void aWorkerThatCannotMakeCgroupsRunsTasksWithoutThem(@TempDir Path notACgroup) throws Exception {
    // A plain directory has no cgroup.kill: tasks run in their process groups alone.
    TaskCgroups none = new TaskCgroups(notACgroup, 1, 1, 1);
    assertEquals(Optional.empty(), none.create());
    assertEquals(Optional.empty(), none.create());
    try (DirectoryStream<Path> left = Files.newDirectoryStream(notACgroup)) {
      assertFalse(left.iterator().hasNext(), "nothing is left behind");
    }
    ExecKind plain =
        new ExecKind(
            GroupLauncher::systemDefault,
            () ->
                new TaskProcessGroups(
                    registryBase,
                    ProcessStat.ownerUid(ProcessHandle.current().pid()).orElseThrow(),
                    1,
                    1),
            () -> Optional.of(none));
    JobSpec spec =
        JobSpec.newBuilder()
            .setExec(ExecParams.newBuilder().addAllCommand(List.of("echo", "ran")))
            .build();
    ExecTaskOutput output =
        ExecTaskOutput.parseFrom(plain.run(plain.plan(spec).input(0), new TestContext()));
    assertEquals("ran\n", output.getStdoutTail());
  }

  private static TaskCancelledException cancel(TestContext context, Future<ByteString> result)
      throws Exception {
    assertTrue(context.awaitRegistration(TIMEOUT), "the task never started");
    context.cancel();
    ExecutionException e =
        assertThrows(
            ExecutionException.class, () -> result.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
    return assertInstanceOf(TaskCancelledException.class, e.getCause());
  }

  /** Gone, or a zombie (where nothing reaps orphans). */
  private static void assertGone(long pid) {
    await(
        () -> ProcessStat.of(pid).map(ProcessStat::isZombie).orElse(true),
        "process " + pid + " to be gone");
  }

  private List<Path> workerCgroups() {
    List<Path> left = new ArrayList<>();
    ProcessStat self = ProcessStat.self();
    for (String name :
        List.of(
            "weft-worker-"
                + ProcessStat.ownPidNamespace()
                + "-"
                + self.pid()
                + "-"
                + self.startTicks())) {
      if (Files.exists(parent.resolve(name))) {
        left.add(parent.resolve(name));
      }
    }
    return left;
  }

  private static void await(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      assertNotEquals(true, System.nanoTime() > deadline, "timed out waiting for " + what);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
  }
}
