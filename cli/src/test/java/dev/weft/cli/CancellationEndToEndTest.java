package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.cli.TaskProcesses.TaskProcess;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskStop;
import dev.weft.v1.WorkerInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Cancelling jobs end to end, with real processes: a coordinator that runs one local worker over
 * shared memory, and a worker of its own process attached over gRPC, two slots each. Every test
 * finds its exec task processes in /proc by a marker argument of its own ({@code sleep 300.123456})
 * and checks that after the cancel none of them is left, on either worker.
 *
 * <p>The cluster serves every test of the class (worker JVMs cost seconds to start on two cores);
 * after each test no marked process may be left and every slot must be free again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
final class CancellationEndToEndTest {
  private static final String LOCAL = "local-1";
  private static final String REMOTE = "remote";
  private static final int SLOTS = 2;
  private static final Duration GRACE = Duration.ofSeconds(2);
  // What the issue promises: no process of the job is left this long after the cancel.
  private static final Duration GONE_AFTER_CANCEL = GRACE.plusSeconds(2);
  private static final Duration RUN_DEADLINE = Duration.ofSeconds(30);
  private static final Pattern CANCELLING_LINE =
      Pattern.compile("cancelling job (\\S+); Ctrl-C again to stop waiting");

  private ProcessCluster cluster;
  private final List<String> markers = new ArrayList<>();

  @BeforeAll
  void startCluster() throws Exception {
    cluster = new ProcessCluster();
    cluster.startCoordinator(
        0,
        "--local-workers",
        "1",
        "--local-transport",
        "shm",
        "--local-slots",
        Integer.toString(SLOTS));
    cluster.startWorker(REMOTE, SLOTS, "--transport", "grpc");
    AtomicReference<Map<String, String>> transports = new AtomicReference<>();
    Await.until(
        LOCAL + " on shm and " + REMOTE + " on grpc",
        ProcessCluster.START_DEADLINE,
        () -> {
          CliResult r = cluster.client("workers", "--json");
          if (r.exitCode() != 0) {
            return false;
          }
          transports.set(
              r.workers().stream()
                  .collect(Collectors.toMap(WorkerInfo::getId, WorkerInfo::getTransport)));
          return transports.get().equals(Map.of(LOCAL, "shm", REMOTE, "grpc"));
        },
        () -> "workers: " + transports.get() + "\n" + cluster.logTails());
  }

  @AfterEach
  void nothingLeftBehind() throws Exception {
    List<TaskProcess> left = new ArrayList<>();
    for (String marker : markers) {
      left.addAll(TaskProcesses.killAll(marker));
    }
    markers.clear();
    assertEquals(List.of(), left, "task processes left behind (now killed)");
    Await.until(
        "every slot to be free again",
        RUN_DEADLINE,
        () -> busyByWorker().values().stream().allMatch(busy -> busy == 0),
        () -> "busy: " + busyByWorker() + "\n" + cluster.logTails());
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (cluster == null) {
      return;
    }
    String coordinatorId = cluster.coordinatorId();
    cluster.close();
    if (coordinatorId != null) {
      Leftovers.awaitNoSegments(coordinatorId);
    }
  }

  @Test
  void cancelStopsEveryTaskProcessOnALocalShmWorkerAndARemoteGrpcWorker() throws Exception {
    String marker = newMarker();
    String id = submit("exec", "--tasks", "6", "--", "sleep", marker);
    awaitProcesses(marker, "sleep", 2 * SLOTS);
    Await.until(
        "both workers to run two tasks each",
        RUN_DEADLINE,
        () -> busyByWorker().equals(Map.of(LOCAL, SLOTS, REMOTE, SLOTS)),
        () -> "busy: " + busyByWorker());

    long cancelledAt = System.nanoTime();
    CliResult cancel = cluster.client("cancel", id, "--grace", "2s", "--json");
    awaitGone(marker, cancelledAt);

    assertExit(0, cancel);
    Job job = cancel.job();
    assertEquals(JobState.CANCELLED, job.getState(), cancel::toString);
    assertEquals("cancelled with weft cancel", job.getError());
    assertEquals(4, job.getTasksStopped(), job::toString);
    assertEquals(2, job.getTasksNeverStarted(), job::toString);
    assertEquals(4, job.getStopsCount(), job::toString);
    assertEquals(
        Set.of(LOCAL, REMOTE),
        job.getStopsList().stream().map(TaskStop::getWorkerId).collect(Collectors.toSet()),
        job::toString);
    for (TaskStop stop : job.getStopsList()) {
      assertEquals(StopOutcome.EXITED_ON_TERM, stop.getOutcome(), stop::toString);
      assertTrue(stop.getStopMs() < GRACE.toMillis(), stop::toString);
    }

    CliResult status = cluster.client("status", id);
    assertExit(1, status);
    assertTrue(status.out().contains("state      CANCELLED\n"), status::toString);
    assertTrue(status.out().contains("reason     cancelled with weft cancel\n"), status::toString);
    assertTrue(
        status
            .out()
            .contains("stops      4 running tasks stopped: 4 exited on SIGTERM; 2 never started\n"),
        status::toString);
    assertTrue(status.out().contains("stopped tasks (4):\n"), status::toString);
    assertTrue(status.out().contains("  TASK  ATTEMPT  WORKER"), status::toString);
    assertEquals(
        4,
        status
            .out()
            .lines()
            .filter(l -> l.contains("exited on SIGTERM") && l.startsWith("  "))
            .count(),
        status::toString);
  }

  @Test
  void aTaskThatIgnoresSigtermIsKilledAfterTheGracePeriod() throws Exception {
    String marker = newMarker();
    // The ignored SIGTERM is inherited by the sleep as well.
    String id = submit("exec", "--tasks", "1", "--", "sh", "-c", "trap '' TERM; sleep " + marker);
    awaitProcesses(marker, "sleep", 1);

    long cancelledAt = System.nanoTime();
    CliResult cancel = cluster.client("cancel", id, "--grace", "2s");
    awaitGone(marker, cancelledAt);

    assertExit(0, cancel);
    assertEquals(
        "cancelled job "
            + id
            + " (0/1 tasks had finished)\n"
            + "1 running task stopped: 1 killed after the grace period\n",
        cancel.out(),
        cancel::toString);
    Job job = status(id);
    assertEquals(JobState.CANCELLED, job.getState(), job::toString);
    TaskStop stop = onlyStop(job);
    assertEquals(StopOutcome.KILLED, stop.getOutcome(), stop::toString);
    assertTrue(stop.getStopMs() >= GRACE.toMillis() - 100, () -> "before the grace ended: " + stop);
  }

  @Test
  void aTaskStoppedWithSigstopIsStillCancelled() throws Exception {
    String marker = newMarker();
    String id = submit("exec", "--tasks", "1", "--", "sleep", marker);
    long pid = awaitProcesses(marker, "sleep", 1).getFirst().pid();
    TaskProcesses.signal(pid, "STOP");
    Await.until("the task to be stopped", RUN_DEADLINE, () -> TaskProcesses.state(pid).equals("T"));

    long cancelledAt = System.nanoTime();
    CliResult cancel = cluster.client("cancel", id, "--grace", "2s", "--json");
    awaitGone(marker, cancelledAt);

    assertExit(0, cancel);
    Job job = cancel.job();
    assertEquals(JobState.CANCELLED, job.getState(), job::toString);
    // A stopped process sees SIGTERM only once continued: it exits on it if the worker sends
    // SIGCONT along, else it is killed after the grace period.
    StopOutcome outcome = onlyStop(job).getOutcome();
    assertTrue(
        outcome == StopOutcome.EXITED_ON_TERM || outcome == StopOutcome.KILLED, job::toString);
  }

  @Test
  void aTaskThatForksGrandchildrenLeavesNoneOfThem() throws Exception {
    String marker = newMarker();
    String id =
        submit(
            "exec",
            "--tasks",
            "1",
            "--",
            "sh",
            "-c",
            "sleep " + marker + " & sleep " + marker + " & wait");
    awaitProcesses(marker, "sleep", 2);

    long cancelledAt = System.nanoTime();
    CliResult cancel = cluster.client("cancel", id, "--grace", "2s", "--json");
    awaitGone(marker, cancelledAt);

    assertExit(0, cancel);
    Job job = cancel.job();
    assertEquals(JobState.CANCELLED, job.getState(), job::toString);
    assertEquals(1, job.getTasksStopped(), job::toString);
  }

  @Test
  void aTaskProcessThatLeftItsGroupIsCancelledThroughTheTasksCgroup() throws Exception {
    Assumptions.assumeTrue(
        canMakeCgroups(),
        "skipped: this machine gives the workers no cgroups to make (cgroup v2, root)");
    String marker = newMarker();
    // The escapee makes a session of its own and ignores SIGTERM: only cgroup.kill reaches it.
    String id =
        submit(
            "exec",
            "--tasks",
            "1",
            "--grace",
            "500ms",
            "--",
            "sh",
            "-c",
            "setsid sh -c \"trap '' TERM; sleep " + marker + "\" & wait");
    awaitProcesses(marker, "sleep", 1);

    long cancelledAt = System.nanoTime();
    CliResult cancel = cluster.client("cancel", id, "--json");
    awaitGone(marker, cancelledAt);

    assertExit(0, cancel);
    Job job = cancel.job();
    assertEquals(JobState.CANCELLED, job.getState(), job::toString);
    assertEquals(1, job.getTasksStopped(), job::toString);
  }

  /** Whether a worker started by this test (as this user) can give its tasks cgroups. */
  private static boolean canMakeCgroups() throws IOException {
    // The workers run in this process's cgroup; as root, anywhere in a cgroup2 hierarchy.
    return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
        .map(line -> line.split(" "))
        .anyMatch(f -> f.length > 2 && f[2].equals("cgroup2") && Files.isWritable(Path.of(f[1])));
  }

  @Test
  void ctrlCOnSubmitWaitCancelsTheJobAndShowsHowItsTasksStopped() throws Exception {
    String marker = newMarker();
    assumeSigintIsNotIgnored();
    ProcessCluster.RunningCli cli =
        cluster.startClientProcess(
            "submit", "exec", "--tasks", "2", "--grace", "2s", "--wait", "--", "sleep", marker);
    awaitProcesses(marker, "sleep", 2);

    long interruptedAt = System.nanoTime();
    TaskProcesses.signal(cli.process().pid(), "INT");
    CliResult r = cli.await();
    awaitGone(marker, interruptedAt);

    assertExit(1, r);
    Matcher line = CANCELLING_LINE.matcher(r.err());
    assertTrue(line.find(), r::toString);
    String id = line.group(1);
    assertTrue(r.out().startsWith("CANCELLED  job " + id + " (exec)"), r::toString);
    assertTrue(r.out().contains("reason     cancelled with Ctrl-C\n"), r::toString);
    assertTrue(
        r.out().contains("stops      2 running tasks stopped: 2 exited on SIGTERM\n"), r::toString);
    assertEquals(JobState.CANCELLED, status(id).getState());
  }

  @Test
  void aSecondCtrlCStopsWaitingWhileTheJobGoesOnCancelling() throws Exception {
    assumeSigintIsNotIgnored();
    String marker = newMarker();
    ProcessCluster.RunningCli cli =
        cluster.startClientProcess(
            "submit",
            "exec",
            "--tasks",
            "1",
            "--grace",
            "3s",
            "--wait",
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep " + marker);
    awaitProcesses(marker, "sleep", 1);

    TaskProcesses.signal(cli.process().pid(), "INT");
    AtomicReference<String> id = new AtomicReference<>();
    Await.until(
        "the CLI to cancel the job",
        RUN_DEADLINE,
        () -> {
          Matcher m = CANCELLING_LINE.matcher(cli.errSoFar());
          if (m.find()) {
            id.set(m.group(1));
          }
          return id.get() != null && status(id.get()).getState() == JobState.CANCELLING;
        },
        cli::errSoFar);
    TaskProcesses.signal(cli.process().pid(), "INT");
    CliResult r = cli.await();

    assertExit(130, r);
    assertTrue(
        r.err()
            .contains(
                "stopped waiting; job "
                    + id.get()
                    + " goes on cancelling; follow it with: weft status "
                    + id.get()),
        r::toString);
    Job job = awaitFinal(id.get());
    assertEquals(JobState.CANCELLED, job.getState(), job::toString);
    assertEquals(StopOutcome.KILLED, onlyStop(job).getOutcome(), job::toString);
    Await.until(
        "no process of the job", GONE_AFTER_CANCEL, () -> TaskProcesses.find(marker).isEmpty());
  }

  @Test
  void cancelNoWaitReturnsWhileTheJobIsCancellingAndEveryViewShowsIt() throws Exception {
    String marker = newMarker();
    String id =
        submit(
            "exec",
            "--tasks",
            "1",
            "--grace",
            "3s",
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep " + marker);
    awaitProcesses(marker, "sleep", 1);

    CliResult noWait = cluster.client("cancel", id, "--no-wait", "--json");

    assertExit(0, noWait);
    assertEquals(JobState.CANCELLING, noWait.job().getState(), noWait::toString);
    // The task ignores SIGTERM, so the job stays CANCELLING for the 3 s of its grace period.
    CliResult json = cluster.client("status", id, "--json");
    assertExit(1, json);
    assertTrue(json.lastLine().contains("\"state\":\"CANCELLING\""), json::toString);
    CliResult human = cluster.client("status", id);
    assertExit(1, human);
    assertTrue(human.out().contains("state      CANCELLING\n"), human::toString);
    assertTrue(human.out().contains("progress   0/1 (1 stopping)\n"), human::toString);
    assertTrue(
        human.out().contains("stops      waiting for 1 running task to stop\n"), human::toString);
    CliResult listed = cluster.client("jobs", "--state", "cancelling", "--json");
    assertExit(0, listed);
    assertEquals(List.of(id), listed.jobs().stream().map(Job::getId).toList(), listed::toString);
    CliResult table = cluster.client("jobs", "--state", "cancelling");
    assertTrue(table.out().contains("CANCELLING"), table::toString);

    // Cancelling again waits for the first cancel to settle.
    CliResult again = cluster.client("cancel", id);
    assertExit(0, again);
    assertEquals(
        "cancelled job "
            + id
            + " (0/1 tasks had finished)\n"
            + "1 running task stopped: 1 killed after the grace period\n",
        again.out(),
        again::toString);
    Await.until(
        "no process of the job", GONE_AFTER_CANCEL, () -> TaskProcesses.find(marker).isEmpty());
  }

  @Test
  void cancellingAFinishedJobIsANoOp() {
    CliResult done =
        cluster.client("submit", "sum", "--from", "1", "--to", "100", "--wait", "--json");
    assertExit(0, done);
    String id = done.job().getId();

    CliResult human = cluster.client("cancel", id);
    CliResult json = cluster.client("cancel", id, "--json");
    CliResult unknown = cluster.client("cancel", "no-such-job");

    assertExit(0, human);
    assertEquals(
        "job " + id + " had already finished (SUCCEEDED); nothing to cancel\n",
        human.out(),
        human::toString);
    assertExit(0, json);
    assertEquals(JobState.SUCCEEDED, json.job().getState());
    assertExit(2, unknown);
    assertTrue(unknown.err().contains("not found"), unknown::toString);
  }

  @Test
  void aTimeoutEndsASleepJobFailedWithItsTasksStopped() {
    CliResult r =
        cluster.client(
            "submit",
            "sleep",
            "--ms",
            "300000",
            "--tasks",
            "2",
            "--timeout",
            "1s",
            "--wait",
            "--json");

    assertExit(1, r);
    Job job = r.job();
    assertEquals(JobState.FAILED, job.getState(), r::toString);
    assertTrue(job.getError().contains("timed out"), job::toString);
    assertEquals(2, job.getTasksStopped(), job::toString);
    for (TaskStop stop : job.getStopsList()) {
      assertEquals(StopOutcome.STOPPED, stop.getOutcome(), stop::toString);
    }
  }

  @Test
  void aTimeoutStopsTheProcessesOfAnExecJob() throws Exception {
    String marker = newMarker();
    long submittedAt = System.nanoTime();
    CliResult r =
        cluster.client(
            "submit",
            "exec",
            "--tasks",
            "2",
            "--timeout",
            "1s",
            "--grace",
            "2s",
            "--wait",
            "--json",
            "--",
            "sleep",
            marker);
    awaitGone(marker, submittedAt + Duration.ofSeconds(1).toNanos());

    assertExit(1, r);
    Job job = r.job();
    assertEquals(JobState.FAILED, job.getState(), r::toString);
    assertTrue(job.getError().contains("timed out"), job::toString);
    assertEquals(2, job.getTasksStopped(), job::toString);
    for (TaskStop stop : job.getStopsList()) {
      assertEquals(StopOutcome.EXITED_ON_TERM, stop.getOutcome(), stop::toString);
    }
  }

  private String newMarker() {
    String marker = TaskProcesses.marker();
    markers.add(marker);
    return marker;
  }

  /** Submits {@code weft submit KIND args...} without waiting and returns the job's id. */
  private String submit(String... args) {
    List<String> all = new ArrayList<>(List.of("submit"));
    all.addAll(List.of(args));
    int end = all.indexOf("--");
    all.add(end < 0 ? all.size() : end, "--json");
    CliResult r = cluster.client(all.toArray(String[]::new));
    assertExit(0, r);
    return r.job().getId();
  }

  /** Waits until at least {@code count} marked processes run {@code program}. */
  private List<TaskProcess> awaitProcesses(String marker, String program, int count)
      throws InterruptedException {
    Await.until(
        count + " " + program + " processes with " + marker,
        RUN_DEADLINE,
        () -> TaskProcesses.find(marker, program).size() >= count,
        () -> TaskProcesses.describe(marker) + cluster.logTails());
    return TaskProcesses.find(marker, program);
  }

  /** Fails unless no marked process is left {@link #GONE_AFTER_CANCEL} after {@code since}. */
  private void awaitGone(String marker, long since) throws InterruptedException {
    Duration left = GONE_AFTER_CANCEL.minusNanos(System.nanoTime() - since);
    Await.until(
        "no process of the job " + GONE_AFTER_CANCEL.toMillis() + " ms after the cancel",
        left.isNegative() ? Duration.ZERO : left,
        () -> TaskProcesses.find(marker).isEmpty(),
        () -> TaskProcesses.describe(marker) + cluster.logTails());
  }

  private Job status(String id) {
    CliResult r = cluster.client("status", id, "--json");
    if (r.exitCode() != 0 && r.exitCode() != 1) {
      throw new AssertionError("weft status " + id + " failed: " + r);
    }
    return r.job();
  }

  private Job awaitFinal(String id) throws InterruptedException {
    AtomicReference<Job> last = new AtomicReference<>();
    Await.until(
        "job " + id + " to finish",
        RUN_DEADLINE,
        () -> {
          last.set(status(id));
          return JobWatcher.isFinal(last.get().getState());
        },
        () -> "last seen: " + last.get());
    return last.get();
  }

  private static TaskStop onlyStop(Job job) {
    assertEquals(1, job.getStopsCount(), job::toString);
    return job.getStopsList().getFirst();
  }

  private Map<String, Integer> busyByWorker() {
    CliResult r = cluster.client("workers", "--json");
    assertExit(0, r);
    return r.workers().stream().collect(Collectors.toMap(WorkerInfo::getId, WorkerInfo::getBusy));
  }

  /**
   * A process started with SIGINT ignored (a shell without job control starts background commands
   * so) passes that on to its children, and Java then installs no handler for it: Ctrl-C cannot be
   * tried from such a test JVM.
   */
  private static void assumeSigintIsNotIgnored() throws IOException {
    long ignored = 0;
    for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8)) {
      if (line.startsWith("SigIgn:")) {
        ignored = Long.parseUnsignedLong(line.substring("SigIgn:".length()).strip(), 16);
      }
    }
    long sigint = 1L << (2 - 1); // bit n-1 stands for signal n; SIGINT is 2
    Assumptions.assumeTrue(
        (ignored & sigint) == 0, "SIGINT is ignored in this test JVM; cannot try Ctrl-C");
  }
}
