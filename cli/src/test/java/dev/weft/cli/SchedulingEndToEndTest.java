package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.cli.TaskProcesses.TaskProcess;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Priorities and preemption with real processes: a coordinator started with {@code --preempt-after
 * 1s} and one worker of four slots. Exec tasks are found in /proc by a marker argument of each
 * test's own, and none may be left after a test.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
final class SchedulingEndToEndTest {
  private static final int SLOTS = 4;
  private static final Duration RUN_DEADLINE = Duration.ofSeconds(30);

  private ProcessCluster cluster;
  private final List<String> markers = new ArrayList<>();

  @BeforeAll
  void startCluster() throws Exception {
    cluster = new ProcessCluster();
    cluster.startCoordinator(0, "--preempt-after", "1s");
    cluster.startWorker("w1", SLOTS);
    cluster.awaitWorkers(1);
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
        () -> cluster.busy("w1") == 0,
        () -> "busy: " + cluster.busy("w1") + "\n" + cluster.logTails());
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private String newMarker() {
    String marker = TaskProcesses.marker();
    markers.add(marker);
    return marker;
  }

  private Set<Long> awaitSleeps(String marker, int count) throws InterruptedException {
    Await.until(
        count + " sleep tasks running",
        RUN_DEADLINE,
        () -> TaskProcesses.find(marker, "sleep").size() == count,
        () -> TaskProcesses.describe(marker) + cluster.logTails());
    return TaskProcesses.find(marker, "sleep").stream()
        .map(TaskProcess::pid)
        .collect(Collectors.toSet());
  }

  private Job status(String id) {
    CliResult r = cluster.client("status", id, "--json");
    return r.job();
  }

  @Test
  void anUrgentJobPreemptsLongTasksWhichRunAgainAtNoCost() throws Exception {
    String marker = newMarker();
    CliResult low =
        cluster.client(
            "submit", "exec", "--tasks", "4", "--grace", "2s", "--json", "--", "sleep", marker);
    assertExit(0, low);
    String lowId = low.job().getId();
    Set<Long> first = awaitSleeps(marker, SLOTS);

    long submitted = System.nanoTime();
    CliResult urgent =
        cluster.client(
            "submit",
            "exec",
            "--priority",
            "10",
            "--tasks",
            "4",
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "echo urgent {}");
    long tookMs = (System.nanoTime() - submitted) / 1_000_000;
    assertExit(0, urgent);
    assertEquals(JobState.SUCCEEDED, urgent.job().getState(), urgent::toString);
    assertTrue(
        tookMs < 15_000, () -> "the urgent job took " + tookMs + " ms\n" + cluster.logTails());
    // The preempted processes got SIGTERM and are gone; the tasks run again, as new processes.
    Await.until(
        "the preempted tasks to run again",
        RUN_DEADLINE,
        () -> {
          Set<Long> now =
              TaskProcesses.find(marker, "sleep").stream()
                  .map(TaskProcess::pid)
                  .collect(Collectors.toSet());
          return now.size() == SLOTS && now.stream().noneMatch(first::contains);
        },
        () -> TaskProcesses.describe(marker) + cluster.logTails());
    Job job = status(lowId);
    assertEquals(JobState.RUNNING, job.getState(), job::toString);
    assertEquals(4, job.getPreemptions(), job::toString);
    assertEquals(4, job.getAttempts(), "a preempted attempt costs nothing: " + job);
    assertTrue(job.getFailuresList().isEmpty(), job::toString);

    CliResult text = cluster.client("status", lowId);
    assertTrue(
        text.out().contains("preempted  4 attempts, stopped for higher classes"), text::toString);
    CliResult jobs = cluster.client("jobs");
    assertTrue(
        jobs.out().lines().anyMatch(l -> l.startsWith(urgent.job().getId()) && l.contains(" 10 ")),
        jobs::toString);
    assertExit(0, cluster.client("cancel", lowId, "--grace", "1s"));
  }

  @Test
  void anAdminRaisesAQueuedJobAheadOfTheOthers() throws Exception {
    String marker = newMarker();
    CliResult hold =
        cluster.client(
            "submit", "exec", "--tasks", "4", "--grace", "1s", "--json", "--", "sleep", marker);
    String holdId = hold.job().getId();
    awaitSleeps(marker, SLOTS);
    String first =
        cluster.client("submit", "exec", "--tasks", "1", "--json", "--", "true").job().getId();
    String second =
        cluster.client("submit", "exec", "--tasks", "1", "--json", "--", "true").job().getId();
    CliResult raised = cluster.client("jobs", "set-priority", second, "5");
    assertExit(0, raised);
    assertEquals("job " + second + " is now in priority class 5\n", raised.out(), raised::toString);
    // The raised job waits longer than --preempt-after: it takes a slot of the holding job.
    Await.until(
        "the raised job to finish",
        RUN_DEADLINE,
        () -> status(second).getState() == JobState.SUCCEEDED,
        cluster::logTails);
    Job firstJob = status(first);
    assertTrue(
        !firstJob.hasStarted()
            || com.google.protobuf.util.Timestamps.compare(
                    status(second).getStarted(), firstJob.getStarted())
                <= 0,
        () -> "the raised job started after the one submitted before it: " + firstJob);
    CliResult bad = cluster.client("jobs", "set-priority", second, "5");
    assertExit(2, bad);
    assertTrue(
        bad.err().contains("only a waiting, queued or running job can change priority"),
        bad::toString);
    assertExit(0, cluster.client("cancel", holdId, "--grace", "1s"));
    Await.until(
        "the first job to run once the slots are free",
        RUN_DEADLINE,
        () -> status(first).getState() == JobState.SUCCEEDED,
        cluster::logTails);
  }
}
