package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import dev.weft.v1.WorkerInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A coordinator and two workers, each a JVM of its own on loopback, driven through the CLI. Every
 * test gets a fresh cluster and leaves no process behind.
 */
final class ClusterEndToEndTest {
  private ProcessCluster cluster;

  @BeforeEach
  void startCluster() throws Exception {
    cluster = new ProcessCluster();
    cluster.startWithWorkers(2);
  }

  @AfterEach
  void stopCluster() throws Exception {
    cluster.close();
  }

  @Test
  void sumOfOneToABillionIsExact() {
    CliResult r =
        cluster.client(
            "submit",
            "sum",
            "--from",
            "1",
            "--to",
            "1000000000",
            "--tasks",
            "100",
            "--wait",
            "--json");

    assertExit(0, r);
    Job job = r.job();
    assertEquals(JobState.SUCCEEDED, job.getState(), r::toString);
    assertEquals("500000000500000000", job.getResult().getSum().getSum());
    assertEquals(100, job.getTasksDone());
    assertFalse(job.getId().isEmpty());
  }

  @Test
  void primesAreCountedExactly() {
    CliResult r =
        cluster.client(
            "submit",
            "primes",
            "--from",
            "1",
            "--to",
            "10_000_000",
            "--tasks",
            "20",
            "--wait",
            "--json");
    CliResult window =
        cluster.client(
            "submit", "primes", "--from", "1000000", "--to", "2000000", "--tasks", "7", "--wait",
            "--json");

    assertExit(0, r);
    assertEquals(664_579, r.job().getResult().getPrimes().getCount()); // pi(10^7)
    assertExit(0, window);
    assertEquals(70_435, window.job().getResult().getPrimes().getCount()); // pi(2e6) - pi(1e6)
  }

  @Test
  void piIsTheSameForTheSameSeedAndTasks() {
    String[] args = {
      "submit", "pi", "--samples", "4_000_000", "--seed", "42", "--tasks", "8", "--wait", "--json"
    };
    Job first = cluster.client(args).job();
    Job second = cluster.client(args).job();

    assertEquals(JobState.SUCCEEDED, first.getState());
    assertEquals(first.getResult().getPi(), second.getResult().getPi());
    assertEquals(4_000_000, first.getResult().getPi().getSamples());
    assertEquals(Math.PI, first.getResult().getPi().getEstimate(), 0.01);
  }

  @Test
  void execTasksThatFailMakeTheJobFailWithTheirExitCodeAndOutput() {
    String[] args = {
      "submit",
      "exec",
      "--args",
      "1",
      "2",
      "3",
      "4",
      "--wait",
      "--json",
      "--",
      "sh",
      "-c",
      "echo out-{}; [ {} != 3 ] || exit 7"
    };
    CliResult json = cluster.client(args);
    CliResult human = cluster.client(withoutJson(args));

    assertExit(1, json);
    Job job = json.job();
    assertEquals(JobState.FAILED, job.getState());
    assertEquals(1, job.getTasksFailed(), json::toString);
    List<TaskFailure> failures = job.getFailuresList();
    assertEquals(1, failures.size(), json::toString);
    assertEquals(2, failures.getFirst().getTask(), "the task of input 3");
    assertTrue(failures.getFirst().getError().contains("exit 7"), json::toString);
    // The failed task's own output must come back: in its exec outcome or in its failure.
    String outputOfTask2 =
        job.getResult().getExec().getTasksList().stream()
                .filter(o -> o.getTask() == 2)
                .map(ExecOutcome::getStdoutTail)
                .findFirst()
                .orElse("")
            + failures.getFirst().getError();
    assertTrue(outputOfTask2.contains("out-3"), () -> "no output of the failed task; " + json);

    assertExit(1, human);
    assertTrue(human.out().contains("FAILED"), human::toString);
    assertTrue(human.out().contains("exit 7"), human::toString);
    assertTrue(human.out().contains("out-3"), human::toString);
  }

  @Test
  void aDrainedWorkerGetsNoTasksUntilItIsResumed() throws Exception {
    CliResult drained = cluster.client("workers", "drain", "w1", "--reason", "disk swap");
    assertExit(0, drained);
    assertTrue(drained.out().contains("drained (disk swap)"), drained::toString);
    long before = tasksDone("w1");

    CliResult job =
        cluster.client(
            "submit", "sum", "--from", "1", "--to", "1000000", "--tasks", "20", "--wait", "--json");
    assertExit(0, job);
    assertEquals("500000500000", job.job().getResult().getSum().getSum());
    assertEquals(before, tasksDone("w1"), "the drained worker ran none of the job's tasks");

    CliResult resumed = cluster.client("workers", "resume", "w1", "--json");
    assertExit(0, resumed);
    assertEquals("ready", resumed.workers().getFirst().getState());

    CliResult unknown = cluster.client("workers", "drain", "nobody");
    assertExit(2, unknown);
    assertTrue(unknown.err().contains("no worker with id 'nobody' is attached"), unknown::toString);
    assertEquals(1, unknown.err().lines().count(), () -> "one line on stderr; " + unknown);
  }

  private long tasksDone(String worker) {
    return cluster.client("workers", "--json").workers().stream()
        .filter(w -> w.getId().equals(worker))
        .findFirst()
        .orElseThrow()
        .getTasksDone();
  }

  @Test
  void aKilledWorkersTasksGoBackToTheQueue() throws Exception {
    CliResult submitted =
        cluster.client("submit", "sleep", "--ms", "1000", "--tasks", "8", "--json");
    assertExit(0, submitted);
    String id = submitted.job().getId();
    Await.until(
        "worker w1 to run tasks",
        Duration.ofSeconds(10),
        () -> cluster.busy("w1") > 0,
        cluster::logTails);

    ProcessHandle w1 = cluster.workerProcess("w1").toHandle();
    assertTrue(w1.destroyForcibly(), "SIGKILL w1");

    AtomicReference<Job> last = new AtomicReference<>();
    Await.until(
        "the job to finish on the remaining worker",
        Duration.ofSeconds(30),
        () -> {
          last.set(cluster.client("status", id, "--json").job());
          return JobWatcher.isFinal(last.get().getState());
        },
        () -> "last seen: " + last.get() + "\n" + cluster.logTails());
    Job job = last.get();
    assertEquals(JobState.SUCCEEDED, job.getState(), job::toString);
    assertEquals(8, job.getTasksDone());
    assertTrue(job.getAttempts() > 8, () -> "the lost tasks ran again: " + job);
  }

  @Test
  void workersJsonListsEveryWorkerWithItsTransport() throws Exception {
    cluster.startWorker("w3", 1, "--transport", "grpc");
    cluster.awaitWorkers(3);
    // Same-host workers move to shared memory when they can; w3 was told not to.
    String sameHost = Files.isWritable(Path.of("/dev/shm")) ? "shm" : "grpc";
    AtomicReference<CliResult> last = new AtomicReference<>();
    Await.until(
        "w1 and w2 to settle on " + sameHost,
        Duration.ofSeconds(10),
        () -> {
          last.set(cluster.client("workers", "--json"));
          return last.get().workers().stream()
              .filter(w -> !w.getId().equals("w3"))
              .allMatch(w -> w.getTransport().equals(sameHost));
        },
        () -> last.get() + "\n" + cluster.logTails());

    CliResult r = last.get();
    assertExit(0, r);
    assertEquals(1, r.out().lines().count(), "one line of JSON");
    Map<String, WorkerInfo> workers =
        r.workers().stream().collect(Collectors.toMap(WorkerInfo::getId, w -> w));
    assertEquals(Set.of("w1", "w2", "w3"), workers.keySet());
    assertEquals("grpc", workers.get("w3").getTransport());
    assertEquals(2, workers.get("w1").getSlots());
    assertEquals(1, workers.get("w3").getSlots());
    for (WorkerInfo w : workers.values()) {
      assertFalse(w.getHost().isEmpty(), w::toString);
      assertTrue(w.getPid() > 0, w::toString);
    }

    CliResult table = cluster.client("workers");
    assertExit(0, table);
    assertTrue(table.out().startsWith("ID "), table::toString);
    assertEquals(4, table.out().lines().count(), table::toString);
  }

  @Test
  void unknownJobIsAUsageError() {
    CliResult r = cluster.client("status", "no-such-job");

    assertExit(2, r);
    assertTrue(r.err().contains("not found"), r::toString);
    assertEquals(1, r.err().lines().count(), () -> "one line on stderr; " + r);
  }

  @Test
  void badParametersNameTheField() {
    CliResult r = cluster.client("submit", "sum", "--from", "5", "--to", "1");

    assertExit(2, r);
    assertTrue(r.err().contains("from"), r::toString);
    assertEquals(1, r.err().lines().count(), () -> "one line on stderr; " + r);
  }

  @Test
  void theCliAsAProcessOfItsOwnSeesTheSameJobs() throws Exception {
    CliResult submitted =
        cluster.clientProcess(
            "submit", "sum", "--from", "-1000", "--to", "999", "--tasks", "3", "--wait", "--json");
    assertExit(0, submitted);
    Job job = submitted.job();
    assertEquals("-1000", job.getResult().getSum().getSum());

    CliResult jobs =
        cluster.cliProcess(
            Map.of("WEFT_COORDINATOR", cluster.coordinator().toString()), "jobs", "--json");
    assertExit(0, jobs);
    assertEquals(List.of(job.getId()), jobs.jobs().stream().map(Job::getId).toList());

    CliResult status = cluster.client("status", job.getId());
    assertExit(0, status);
    assertTrue(status.out().contains("SUCCEEDED"), status::toString);
  }

  @Test
  void cancelStopsARunningJob() throws Exception {
    String id =
        cluster.client("submit", "sleep", "--ms", "30000", "--tasks", "4", "--json").job().getId();
    Await.until(
        "the job to run",
        Duration.ofSeconds(10),
        () -> cluster.busy("w1") + cluster.busy("w2") > 0);

    CliResult cancelled = cluster.client("cancel", id, "--json");

    assertExit(0, cancelled);
    AtomicReference<Job> last = new AtomicReference<>();
    Await.until(
        "the job to be cancelled",
        Duration.ofSeconds(15),
        () -> {
          last.set(cluster.client("status", id, "--json").job());
          return last.get().getState() == JobState.CANCELLED;
        },
        () -> "last seen: " + last.get());
    assertExit(1, cluster.client("status", id));
  }

  @Test
  void coordinatorAndWorkersExitZeroOnSigterm() throws Exception {
    // Both looked up first: a stopping worker's link is gone from the list at once.
    Map<String, Process> workers = new LinkedHashMap<>();
    for (String id : List.of("w1", "w2")) {
      workers.put(id, cluster.workerProcess(id));
    }
    workers.forEach(
        (id, worker) -> {
          try {
            assertEquals(0, ProcessCluster.terminate(worker), () -> id + "\n" + cluster.logTails());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
          }
        });
    assertEquals(0, ProcessCluster.terminate(cluster.coordinatorProcess()), cluster::logTails);
  }

  private static String[] withoutJson(String[] args) {
    return Arrays.stream(args).filter(a -> !a.equals("--json")).toArray(String[]::new);
  }
}
