package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.weft.posix.ProcessStat;
import dev.weft.posix.Signals;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.JobSpec;
import dev.weft.v1.StopOutcome;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exec tasks in cgroups of their own: what leaves the task's process group (setsid) is still
 * cancelled, killed when the task ends, and swept after its worker dies. Needs a cgroup v2
 * hierarchy this process may make cgroups in (root here); skipped, saying why, without one.
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
  private TaskCgroups cgroups;
  private ExecKind kind;

  @BeforeEach
  void setUp() throws IOException {
    Optional<Path> own = TaskCgroups.ownCgroup();
    assumeTrue(own.isPresent(), "skipped: this process is in no cgroup v2 hierarchy it can see");
    assumeTrue(
        Files.isWritable(own.get()),
        "skipped: this process may not make cgroups in "
            + own.get()
            + " (not root, no delegation)");
    parent = own.get();
    ProcessStat self = ProcessStat.self();
    cgroups = new TaskCgroups(parent, ProcessStat.ownPidNamespace(), self.pid(), self.startTicks());
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
  void theCgroup2MountIsFoundInMountinfo() {
    List<String> mountinfo =
        List.of(
            "24 31 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw",
            "33 25 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
            "35 25 0:30 /a /elsewhere rw,relatime - cgroup2 cgroup2 rw",
            "36 25 0:30 / /sys/fs/cgroup/my\\040unified rw,relatime shared:9 - cgroup2 cgroup2 rw");
    assertEquals(
        Optional.of(Path.of("/sys/fs/cgroup/my unified")), TaskCgroups.cgroup2Mount(mountinfo));
    assertEquals(Optional.empty(), TaskCgroups.cgroup2Mount(mountinfo.subList(0, 3)));
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
