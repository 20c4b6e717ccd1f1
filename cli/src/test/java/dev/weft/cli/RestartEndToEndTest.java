package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator SIGKILLed in the middle of a job and started again on the same data dir and port:
 * the workers come back by themselves, the job finishes with every task's result, the tasks whose
 * results were journaled before the kill do not run again, and finished jobs are still there.
 */
final class RestartEndToEndTest {
  private static final int TASKS = 40;
  private static final Duration JOB_DEADLINE = Duration.ofSeconds(60);

  @TempDir private Path work;
  private ProcessCluster cluster;

  @BeforeEach
  void createCluster() throws Exception {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stopCluster() throws Exception {
    cluster.close();
  }

  private static Job status(ProcessCluster cluster, String id) {
    CliResult r = cluster.client("status", id, "--json");
    assertExit(0, r);
    return r.job();
  }

  @Test
  void aKilledCoordinatorResumesItsJobWithoutRunningRecordedTasksAgain() throws Exception {
    killMidJobAndResume(cluster, work, Map.of());
  }

  /**
   * The test above, with {@code env} and {@code options} given to both coordinators: {@link
   * PostgresRestartEndToEndTest} runs it on a PostgreSQL journal.
   */
  static void killMidJobAndResume(
      ProcessCluster cluster, Path work, Map<String, String> env, String... options)
      throws Exception {
    int port = ProcessCluster.freePort();
    cluster.startCoordinator(env, port, options);
    cluster.startWorker("w1", 2);
    cluster.startWorker("w2", 2);
    cluster.awaitWorkers(2);
    CliResult sum =
        cluster.client(
            "submit", "sum", "--from", "1", "--to", "1000", "--tasks", "4", "--wait", "--json");
    assertExit(0, sum);

    // Each run appends "TASK GENERATION" to runs.txt and prints the generation: 1 before the
    // kill, 2 after it. A task's output in the final result thus tells which run was counted.
    Path generation = work.resolve("generation");
    Path runs = work.resolve("runs.txt");
    Files.writeString(generation, "1");
    String script = "g=$(cat " + generation + "); echo {} $g >> " + runs + "; echo $g; sleep 0.2";
    CliResult submitted =
        cluster.client(
            "submit", "exec", "--tasks", String.valueOf(TASKS), "--json", "--", "sh", "-c", script);
    assertExit(0, submitted);
    String id = submitted.job().getId();
    Await.until(
        "a quarter of the tasks to be done",
        JOB_DEADLINE,
        () -> status(cluster, id).getTasksDone() >= TASKS / 4,
        cluster::logTails);

    Process killed = cluster.coordinatorProcess();
    killed.destroyForcibly(); // SIGKILL: nothing is flushed, nothing is said to the workers
    assertTrue(killed.waitFor(10, TimeUnit.SECONDS), "SIGKILL ignored");
    assertEquals(137, killed.exitValue());
    // The workers stop what ran for the dead coordinator; only then does the generation change,
    // so no run of before the kill can see generation 2.
    Await.until(
        "the task processes of before the kill to stop",
        JOB_DEADLINE,
        () -> TaskProcesses.find(runs.toString()).isEmpty(),
        () -> "still running: " + TaskProcesses.find(runs.toString()));
    Files.writeString(generation, "2");

    cluster.startCoordinator(env, port, options);
    Await.until(
        "job " + id + " to succeed after the restart",
        JOB_DEADLINE,
        () -> status(cluster, id).getState() == JobState.SUCCEEDED,
        cluster::logTails);

    Job done = status(cluster, id);
    assertEquals(TASKS, done.getResult().getExec().getSucceeded(), done::toString);
    List<ExecOutcome> outcomes = done.getResult().getExec().getTasksList();
    assertEquals(
        IntStream.range(0, TASKS).boxed().toList(),
        outcomes.stream().map(ExecOutcome::getTask).sorted().toList());
    Set<Integer> recorded =
        outcomes.stream()
            .filter(o -> o.getStdoutTail().strip().equals("1"))
            .map(ExecOutcome::getTask)
            .collect(Collectors.toSet());
    assertTrue(
        !recorded.isEmpty() && recorded.size() < TASKS,
        "the kill should fall mid-job; recorded before it: " + recorded);
    List<String> after =
        Files.readAllLines(runs).stream().filter(line -> line.endsWith(" 2")).toList();
    Set<Integer> ranAfter =
        after.stream()
            .map(line -> Integer.parseInt(line.substring(0, line.indexOf(' '))))
            .collect(Collectors.toSet());
    for (int task : recorded) {
      assertTrue(!ranAfter.contains(task), "task " + task + " ran again: " + after);
    }
    assertEquals(TASKS - recorded.size(), after.size(), "runs after the restart: " + after);

    // The job that had finished before the kill is still there, with its result.
    Job kept = status(cluster, sum.job().getId());
    assertEquals(JobState.SUCCEEDED, kept.getState());
    assertEquals("500500", kept.getResult().getSum().getSum());
    CliResult list = cluster.client("jobs", "--json");
    assertExit(0, list);
    assertEquals(
        List.of(id, sum.job().getId()), list.jobs().stream().map(Job::getId).toList(), list::out);
  }

  @Test
  void aSecondCoordinatorOnTheSameDataDirExitsTwoNamingIt() throws Exception {
    cluster.startCoordinator(0);
    long pid = cluster.coordinatorProcess().pid();
    CliResult second =
        cluster.cliProcess(
            "coordinator", "--listen", "127.0.0.1:0", "--data-dir", cluster.dataDir().toString());
    assertExit(2, second);
    String expected =
        "weft coordinator: the data dir "
            + cluster.dataDir()
            + " is in use by another coordinator (pid "
            + pid
            + "); stop it first, or give this one a data dir of its own with --data-dir DIR";
    assertTrue(second.err().lines().anyMatch(expected::equals), second::toString);
  }
}
