package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code --task-timeout} end to end, with real processes: the worker stops an exec attempt that
 * runs past it (SIGTERM, the grace, SIGKILL), reports it timed out, and the coordinator counts a
 * failed attempt and runs the task again without {@code --retry-on-error}.
 */
final class TaskTimeoutEndToEndTest {
  // Far below the task's own sleep: the job ends only because its attempts are stopped.
  private static final Duration ENDS_WITHIN = Duration.ofSeconds(30);

  private ProcessCluster cluster;
  private String marker;

  @BeforeEach
  void startCluster() throws Exception {
    cluster = new ProcessCluster();
    cluster.startWithWorkers(1);
  }

  @AfterEach
  void stopCluster() throws Exception {
    List<TaskProcesses.TaskProcess> left =
        marker == null ? List.of() : TaskProcesses.killAll(marker);
    cluster.close();
    assertEquals(List.of(), left, "task processes left behind (now killed)");
  }

  @Test
  void anAttemptPastItsTaskTimeoutIsStoppedCountedFailedAndRetried() throws Exception {
    // sleep 60.NNNNNN: a minute, marked so that only this test's processes are looked for.
    marker = "60" + TaskProcesses.marker().substring("300".length());
    long start = System.nanoTime();
    CliResult r =
        cluster.client(
            "submit",
            "exec",
            "--tasks",
            "1",
            "--task-timeout",
            "1s",
            "--grace",
            "1s",
            "--max-attempts",
            "2",
            "--wait",
            "--json",
            "--",
            "sleep",
            marker);
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertExit(1, r);
    Job job = r.job();
    assertEquals(JobState.FAILED, job.getState(), r::toString);
    assertTrue(took.compareTo(ENDS_WITHIN) < 0, () -> "took " + took + "; " + r);
    assertEquals(2, job.getAttempts(), "retried once without --retry-on-error; " + r);
    assertEquals(2, job.getFailuresCount(), r::toString);
    assertTrue(
        job.getError().startsWith("1 of 1 tasks failed; first: task 0 after 2 attempts: "),
        job::toString);
    assertEquals(List.of(), TaskProcesses.find(marker), "the stopped sleeps are gone");
  }
}
