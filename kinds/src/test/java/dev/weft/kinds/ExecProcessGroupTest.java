package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.posix.ProcessStat;
import dev.weft.posix.Signals;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.JobSpec;
import dev.weft.v1.StopOutcome;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
 * Exec tasks in process groups of their own, stopped with real signals; without cgroups, as on a
 * worker that cannot make them ({@link TaskCgroupTest} has the tasks in cgroups).
 */
class ExecProcessGroupTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final long SHORT_GRACE_MS = 300;

  @TempDir Path dir;
  @TempDir Path registryBase;

  private final int uid = ProcessStat.ownerUid(ProcessHandle.current().pid()).orElseThrow();
  private final List<Long> groups = new ArrayList<>();
  private final List<Process> processes = new ArrayList<>();
  private ExecutorService executor;
  private TaskProcessGroups registry;
  private ExecKind kind;

  @BeforeEach
  void setUp() {
    executor = Executors.newCachedThreadPool();
    ProcessStat self = ProcessStat.self();
    registry = new TaskProcessGroups(registryBase, uid, self.pid(), self.startTicks());
    kind = new ExecKind(GroupLauncher::systemDefault, () -> registry, Optional::empty);
  }

  @AfterEach
  void cleanUp() throws InterruptedException {
    // Whatever a failed test left running goes too.
    for (long pgid : groups) {
      if (!liveMembers(pgid).isEmpty()) {
        Signals.killProcessGroup(pgid, Signals.SIGKILL);
      }
    }
    processes.forEach(Process::destroyForcibly);
    executor.shutdownNow();
    assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
  }

  private ByteString task(List<String> command) throws InvalidJobException, IOException {
    return ExecTasks.input(kind, dir, command);
  }

  private static List<String> shell(String script) {
    return List.of("sh", "-c", script);
  }

  /** A task under way: its group is verified and recorded, its cancel action registered. */
  private record Running(Future<ByteString> result, TestContext context, long pgid) {}

  private Running start(List<String> command, long graceMs) throws Exception {
    ByteString input = task(command);
    TestContext context = new TestContext(graceMs);
    Future<ByteString> result = executor.submit(() -> kind.run(input, context));
    assertTrue(context.awaitRegistration(TIMEOUT), "the task never started");
    List<Long> recorded = recordedGroups();
    assertEquals(1, recorded.size(), "recorded groups: " + recorded);
    long pgid = recorded.getFirst();
    groups.add(pgid);
    return new Running(result, context, pgid);
  }

  /** Cancels and returns how the task said it stopped, having printed how long it took. */
  private static TaskCancelledException cancel(Running task, String what) throws Exception {
    long cancelled = System.nanoTime();
    task.context().cancel();
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> task.result().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - cancelled);
    TaskCancelledException stop = assertInstanceOf(TaskCancelledException.class, e.getCause());
    System.out.printf(
        "%s: %s (%s) %d ms after the cancel%n", what, stop.outcome(), stop.detail(), ms);
    return stop;
  }

  @Test
  void theTaskLeadsItsOwnGroupAndSession() throws Exception {
    // The shell reads its own stat line: a builtin, so no other process is involved.
    ByteString input = task(shell("read -r stat < /proc/$$/stat; echo \"$stat\""));
    ExecTaskOutput output = ExecTaskOutput.parseFrom(kind.run(input, new TestContext()));
    String stat = output.getStdoutTail().strip();
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long pid = Long.parseLong(stat.substring(0, stat.indexOf(' ')));
    assertEquals(pid, Long.parseLong(fields[2]), "pgrp of " + stat);
    assertEquals(pid, Long.parseLong(fields[3]), "session of " + stat);
    assertNotEquals(ProcessStat.self().processGroup(), pid);
    assertEquals(List.of(), recordedGroups(), "the record goes when the task ends");
  }

  @Test
  void whileItRunsItsGroupIsRecordedAndItsPgidIsItsPid() throws Exception {
    Running task = start(List.of("sleep", "300"), 10_000);
    ProcessStat leader = ProcessStat.of(task.pgid()).orElseThrow();
    assertEquals(task.pgid(), leader.processGroup());
    assertNotEquals(ProcessStat.self().processGroup(), leader.processGroup());
    Path record = onlyWorkerDir().resolve(Long.toString(task.pgid()));
    assertEquals(leader.startTicks() + "\n", Files.readString(record));
    cancel(task, "sleep 300");
    assertFalse(Files.exists(record));
  }

  @Test
  void cancelEndsATaskThatExitsOnSigterm() throws Exception {
    Running task = start(List.of("sleep", "300"), 10_000);
    long cancelled = System.nanoTime();
    TaskCancelledException stop = cancel(task, "sleep 300");
    assertEquals(StopOutcome.EXITED_ON_TERM, stop.outcome());
    assertTrue(stop.detail().matches("exited on SIGTERM after \\d+ ms"), stop.detail());
    // Well before the 10 s grace period.
    assertTrue(System.nanoTime() - cancelled < TimeUnit.SECONDS.toNanos(5));
    assertTrue(liveMembers(task.pgid()).isEmpty());
  }

  @Test
  void aTaskIgnoringSigtermIsKilledAfterTheGrace() throws Exception {
    // sleep inherits the ignored SIGTERM from the shell.
    Running task = start(shell("trap '' TERM; touch ready; sleep 300"), SHORT_GRACE_MS);
    awaitFile(dir.resolve("ready"));
    long cancelled = System.nanoTime();
    TaskCancelledException stop = cancel(task, "ignoring SIGTERM");
    assertEquals(StopOutcome.KILLED, stop.outcome());
    assertEquals("killed with SIGKILL after the 300 ms grace period", stop.detail());
    assertTrue(System.nanoTime() - cancelled >= TimeUnit.MILLISECONDS.toNanos(SHORT_GRACE_MS));
    assertTrue(liveMembers(task.pgid()).isEmpty());
  }

  @Test
  void aStoppedTaskIsContinuedSoItCanActOnSigterm() throws Exception {
    // A handled SIGTERM does not wake a stopped process (an unhandled one would kill it anyway):
    // this shell can exit on SIGTERM only because the group is continued first.
    Running task =
        start(shell("trap 'exit 0' TERM; touch ready; while :; do sleep 1; done"), 10_000);
    awaitFile(dir.resolve("ready"));
    assertEquals(Signals.Result.SENT, Signals.killProcessGroup(task.pgid(), Signals.SIGSTOP));
    // Every member stops; seeing one stopped is enough to know the group is.
    await(
        () -> ProcessStat.liveMembersOf(task.pgid()).stream().anyMatch(p -> p.state() == 'T'),
        "a process of the group to stop: " + ProcessStat.liveMembersOf(task.pgid()));
    TaskCancelledException stop = cancel(task, "stopped");
    assertEquals(StopOutcome.EXITED_ON_TERM, stop.outcome(), stop.detail());
    assertTrue(liveMembers(task.pgid()).isEmpty());
  }

  @Test
  void cancelLeavesNoProcessOfTheGroup() throws Exception {
    Running task = start(shell("sleep 300 & sleep 300 & touch ready; wait"), 10_000);
    awaitFile(dir.resolve("ready"));
    // The shell and its two sleeps; `touch` may still be on its way out when the file appears.
    await(
        () -> liveMembers(task.pgid()).size() == 3,
        "the shell and its two sleeps alone in the group: " + liveMembers(task.pgid()));
    TaskCancelledException stop = cancel(task, "grandchildren");
    assertEquals(StopOutcome.EXITED_ON_TERM, stop.outcome());
    assertEquals(List.of(), liveMembers(task.pgid()));
  }

  @Test
  void membersOutlivingTheLeaderAreKilledAfterTheGrace() throws Exception {
    // The shell exits on SIGTERM; the subshell and its sleep ignore it and stay.
    Running task = start(shell("(trap '' TERM; touch ready; sleep 300) & wait"), SHORT_GRACE_MS);
    awaitFile(dir.resolve("ready"));
    TaskCancelledException stop = cancel(task, "orphans ignoring SIGTERM");
    assertEquals(StopOutcome.KILLED, stop.outcome(), stop.detail());
    assertEquals(List.of(), liveMembers(task.pgid()));
  }

  @Test
  void whatATaskLeavesRunningWhenItExitsIsKilled() throws Exception {
    // The background sleep also holds the task's stdout open; killing it ends the output at once.
    ByteString input = task(shell("sleep 300 & echo $! > child; echo done"));
    long started = System.nanoTime();
    ExecTaskOutput output = ExecTaskOutput.parseFrom(kind.run(input, new TestContext()));
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    System.out.printf("left a child behind: returned after %d ms%n", ms);
    assertEquals(0, output.getExitCode());
    assertEquals("done\n", output.getStdoutTail());
    long child = Long.parseLong(Files.readString(dir.resolve("child")).strip());
    ProcessStat.of(child).ifPresent(stat -> groups.add(stat.processGroup()));
    assertTrue(ProcessStat.of(child).map(ProcessStat::isZombie).orElse(true), "sleep still runs");
    assertEquals(List.of(), recordedGroups());
  }

  @Test
  void theLeaderDiesWithTheThreadThatStartedIt() throws Exception {
    GroupLauncher launcher = GroupLauncher.systemDefault();
    if (!launcher.setsParentDeathSignal()) {
      System.out.println("setpriv is not installed: no parent-death signal to test");
      return;
    }
    ProcessBuilder builder = new ProcessBuilder(launcher.command(List.of("sleep", "300")));
    Future<ProcessGroup> started =
        executor.submit(() -> ProcessGroup.start(builder, registry, null));
    ProcessGroup group = started.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    groups.add(group.pgid());
    // The pool thread that forked it ends; the kernel then sends the leader SIGKILL.
    executor.shutdown();
    assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
    assertTrue(group.leader().waitFor(10, TimeUnit.SECONDS), "the leader outlived its thread");
    assertEquals(128 + Signals.SIGKILL, group.leader().exitValue());
    group.close();
    assertEquals(List.of(), recordedGroups());
  }

  @Test
  void withoutSetprivTasksStillGetTheirOwnGroup(@TempDir Path bin) throws Exception {
    Files.createSymbolicLink(
        bin.resolve("setsid"),
        ProgramLookup.resolve("setsid", GroupLauncher.SYSTEM_PATH, Path.of("/")));
    GroupLauncher launcher = GroupLauncher.find(bin.toString());
    assertTrue(launcher.canLaunch());
    assertFalse(launcher.setsParentDeathSignal());
    assertEquals(
        List.of(bin.resolve("setsid").toString(), "--", "true"), launcher.command(List.of("true")));
    kind = new ExecKind(() -> launcher, () -> registry, Optional::empty);
    ByteString input = task(shell("read -r stat < /proc/$$/stat; echo \"$stat\""));
    String stat =
        ExecTaskOutput.parseFrom(kind.run(input, new TestContext())).getStdoutTail().strip();
    long pid = Long.parseLong(stat.substring(0, stat.indexOf(' ')));
    assertEquals(pid, Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[2]));
  }

  @Test
  void withoutSetsidNoTaskStarts(@TempDir Path empty) throws Exception {
    GroupLauncher launcher = GroupLauncher.find(empty.toString());
    assertFalse(launcher.canLaunch());
    kind = new ExecKind(() -> launcher, () -> registry, Optional::empty);
    TaskFailedException e =
        assertThrows(
            TaskFailedException.class,
            () -> kind.run(task(List.of("touch", "started")), new TestContext()));
    assertEquals(
        "cannot start 'touch': setsid is not installed on this worker; exec tasks need it"
            + " (install util-linux)",
        e.getMessage());
    assertEquals(ExecKind.CANNOT_START_EXIT, ExecTaskOutput.parseFrom(e.output()).getExitCode());
    assertFalse(Files.exists(dir.resolve("started")));
  }

  @Test
  void theProgramIsLookedUpOnTheTasksPath() throws Exception {
    Path script = dir.resolve("script");
    Files.writeString(script, "#!/bin/sh\necho hi\n");
    JobSpec notOnPath =
        JobSpec.newBuilder()
            .setExec(
                ExecParams.newBuilder()
                    .addCommand("sleep")
                    .setWorkdir(dir.toString())
                    .putEnv("PATH", dir.toString()))
            .build();
    TaskFailedException missing =
        assertThrows(
            TaskFailedException.class,
            () -> kind.run(kind.plan(notOnPath).input(0), new TestContext()));
    assertEquals("cannot start 'sleep': No such file or directory", missing.getMessage());

    JobSpec notExecutable =
        JobSpec.newBuilder()
            .setExec(ExecParams.newBuilder().addCommand("./script").setWorkdir(dir.toString()))
            .build();
    TaskFailedException denied =
        assertThrows(
            TaskFailedException.class,
            () -> kind.run(kind.plan(notExecutable).input(0), new TestContext()));
    assertEquals("cannot start './script': Permission denied", denied.getMessage());

    assertTrue(script.toFile().setExecutable(true));
    JobSpec onTasksPath =
        JobSpec.newBuilder()
            .setExec(
                ExecParams.newBuilder()
                    .addCommand("script")
                    .setWorkdir(dir.toString())
                    .putEnv("PATH", dir + ":/usr/bin:/bin"))
            .build();
    ExecTaskOutput output =
        ExecTaskOutput.parseFrom(kind.run(kind.plan(onTasksPath).input(0), new TestContext()));
    assertEquals("hi\n", output.getStdoutTail());
  }

  @Test
  void theSweepKillsTheGroupsOfADeadWorker() throws Exception {
    // A stand-in worker: a process started here, recorded as running a task, then killed.
    Process worker = new ProcessBuilder("sleep", "300").start();
    processes.add(worker);
    ProcessStat workerStat = ProcessStat.of(worker.pid()).orElseThrow();
    TaskProcessGroups deadWorkers =
        new TaskProcessGroups(registryBase, uid, worker.pid(), workerStat.startTicks());
    GroupLauncher launcher = GroupLauncher.systemDefault();
    ProcessGroup orphan =
        ProcessGroup.start(
            new ProcessBuilder(launcher.command(shell("sleep 300 & sleep 300 & touch ready; wait")))
                .directory(dir.toFile()),
            deadWorkers,
            null);
    groups.add(orphan.pgid());
    awaitFile(dir.resolve("ready"));
    // And a task of this live worker, which the sweep must leave alone.
    ProcessGroup live =
        ProcessGroup.start(
            new ProcessBuilder(launcher.command(List.of("sleep", "300"))), registry, null);
    groups.add(live.pgid());
    Path deadDir = registryBase.resolve(worker.pid() + "-" + workerStat.startTicks());
    assertTrue(Files.exists(deadDir.resolve(Long.toString(orphan.pgid()))));

    assertEquals(0, TaskProcessGroups.sweepOrphans(registryBase, uid), "the worker still runs");
    worker.destroyForcibly();
    assertTrue(worker.waitFor(10, TimeUnit.SECONDS));

    assertEquals(1, TaskProcessGroups.sweepOrphans(registryBase, uid));
    await(() -> liveMembers(orphan.pgid()).isEmpty(), "the orphaned group to die");
    assertFalse(Files.exists(deadDir));
    assertEquals(1, liveMembers(live.pgid()).size());
    assertEquals(List.of(live.pgid()), recordedGroups());
    live.close();
    orphan.close();
    await(() -> liveMembers(live.pgid()).isEmpty(), "the live task to be killed on close");
    assertEquals(List.of(), recordedGroups());
  }

  @Test
  void theSweepLeavesAGroupThatIsNotTheRecordedOne() throws Exception {
    // A record whose leader started later than the group's processes did: the pgid is someone
    // else's now (pids are reused), so it must not be killed.
    Process stranger = new ProcessBuilder("setsid", "sleep", "300").start();
    processes.add(stranger);
    await(
        () -> Signals.processGroupOf(stranger.pid()).orElse(-1) == stranger.pid(), "setsid to run");
    groups.add(stranger.pid());
    ProcessStat stat = ProcessStat.of(stranger.pid()).orElseThrow();
    Path deadDir = registryBase.resolve(pidOfADeadProcess() + "-1");
    Files.createDirectories(deadDir);
    Files.writeString(
        deadDir.resolve(Long.toString(stranger.pid())), (stat.startTicks() + 1) + "\n");
    Files.writeString(deadDir.resolve("garbage"), "x");

    assertEquals(0, TaskProcessGroups.sweepOrphans(registryBase, uid));
    assertTrue(stranger.isAlive());
    assertFalse(Files.exists(deadDir), "the dead worker's records are gone all the same");
  }

  @Test
  void theSweepRefusesADirectoryOthersCanWrite() throws Exception {
    Path deadDir = registryBase.resolve(pidOfADeadProcess() + "-1");
    Files.createDirectories(deadDir);
    Files.setPosixFilePermissions(registryBase, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertEquals(0, TaskProcessGroups.sweepOrphans(registryBase, uid));
    assertTrue(Files.exists(deadDir), "left alone");
  }

  private long pidOfADeadProcess() throws Exception {
    Process process = new ProcessBuilder("true").start();
    assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    return process.pid();
  }

  private List<Long> recordedGroups() throws IOException {
    List<Long> pgids = new ArrayList<>();
    if (!Files.isDirectory(registryBase)) {
      return pgids;
    }
    try (DirectoryStream<Path> workers = Files.newDirectoryStream(registryBase)) {
      for (Path worker : workers) {
        try (DirectoryStream<Path> records = Files.newDirectoryStream(worker, "[0-9]*")) {
          for (Path record : records) {
            pgids.add(Long.parseLong(record.getFileName().toString()));
          }
        }
      }
    }
    return pgids;
  }

  private Path onlyWorkerDir() throws IOException {
    try (DirectoryStream<Path> workers = Files.newDirectoryStream(registryBase)) {
      List<Path> all = new ArrayList<>();
      workers.forEach(all::add);
      assertEquals(1, all.size(), all.toString());
      return all.getFirst();
    }
  }

  /**
   * The pids of group {@code pgid} that are not zombies, read from /proc/PID/stat here rather than
   * through the code under test. Zombies are left out: where init does not reap orphans they stay.
   */
  private static List<Long> liveMembers(long pgid) {
    List<Long> members = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path entry : entries) {
        String stat;
        try {
          stat = Files.readString(entry.resolve("stat"));
        } catch (IOException e) {
          continue; // it exited while we looked
        }
        // Field 3 (state) and field 5 (pgrp) follow the parenthesised command name.
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        if (Long.parseLong(fields[2]) == pgid && !fields[0].equals("Z")) {
          members.add(Long.parseLong(entry.getFileName().toString()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return members;
  }

  private static void awaitFile(Path file) {
    await(() -> Files.exists(file), file + " to appear");
  }

  private static void await(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() - deadline < 0, "waited " + TIMEOUT + " for " + what);
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }
}
