package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.Timestamps;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Dependencies and retry policies end to end, with real processes: a coordinator and one worker of
 * two slots, shared by the tests of the class, driven with the {@code weft} CLI as a user would.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
final class SchedulingPolicyEndToEndTest {
  private static final Duration RUN_DEADLINE = Duration.ofSeconds(60);

  private ProcessCluster cluster;

  @BeforeAll
  void startCluster() throws Exception {
    cluster = new ProcessCluster();
    cluster.startWithWorkers(1);
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** {@code weft submit ARGS --json} (before any {@code --}); the job as accepted. */
  private Job submit(String... args) {
    List<String> all = new ArrayList<>(List.of("submit"));
    all.addAll(List.of(args));
    int end = all.indexOf("--");
    all.add(end < 0 ? all.size() : end, "--json");
    CliResult r = cluster.client(all.toArray(String[]::new));
    assertExit(0, r);
    return r.job();
  }

  private Job status(String id) {
    CliResult r = cluster.client("status", id, "--json");
    return r.job();
  }

  @Test
  void aJobWaitsForAnotherAndStartsOnceItSucceeds() throws Exception {
    Job first = submit("sleep", "--ms", "3000", "--tasks", "1");
    Job second = submit("exec", "--tasks", "1", "--after", first.getId(), "--", "true");
    assertEquals(JobState.WAITING, second.getState(), second::toString);
    assertEquals("until job " + first.getId() + " succeeds", second.getWaitingReason());

    CliResult shown = cluster.client("status", second.getId());
    assertExit(0, shown);
    assertTrue(
        shown.out().contains("state      WAITING\n")
            && shown.out().contains("waiting    until job " + first.getId() + " succeeds"),
        shown::toString);
    CliResult waiting = cluster.client("jobs", "--state", "waiting", "--json");
    assertEquals(
        List.of(second.getId()),
        waiting.jobs().stream().map(Job::getId).toList(),
        waiting::toString);

    // --wait follows a job through WAITING to its end.
    CliResult third =
        cluster.client(
            "submit",
            "sum",
            "--from",
            "1",
            "--to",
            "10",
            "--after",
            second.getId() + ":any",
            "--wait",
            "--json");
    assertExit(0, third);
    Job last = third.job();
    assertEquals(JobState.SUCCEEDED, last.getState(), third::toString);

    Job firstDone = status(first.getId());
    Job secondDone = status(second.getId());
    assertEquals(JobState.SUCCEEDED, firstDone.getState());
    assertEquals(JobState.SUCCEEDED, secondDone.getState(), secondDone::toString);
    assertTrue(
        Timestamps.compare(secondDone.getStarted(), firstDone.getFinished()) >= 0,
        () -> "started before its dependency finished: " + firstDone + secondDone);
    assertTrue(
        Timestamps.compare(last.getStarted(), secondDone.getFinished()) >= 0, last::toString);
  }

  @Test
  void aJobWhoseDependencyFailsFailsAtOnceSayingWhy() throws Exception {
    Job failing = submit("exec", "--tasks", "1", "--", "sh", "-c", "sleep 2; exit 3");
    CliResult waited =
        cluster.client(
            "submit", "sum", "--from", "1", "--to", "10", "--after", failing.getId(), "--wait");
    assertExit(1, waited);
    String why =
        "job "
            + failing.getId()
            + " it depends on (--after "
            + failing.getId()
            + ") ended FAILED: 1 of 1 tasks failed; first: task 0: exit 3";
    assertTrue(waited.out().contains("FAILED"), waited::toString);
    assertTrue(waited.out().contains("error      " + why), waited::toString);

    // Submitted once the dependency has failed: it fails at submit, with the same reason.
    Job late = submit("sum", "--from", "1", "--to", "10", "--after", failing.getId());
    assertEquals(JobState.FAILED, late.getState(), late::toString);
    assertEquals(why, late.getError());
    assertEquals(1, late.getTasksNeverStarted());
  }

  @Test
  void aJobNamingAnUnknownJobIsRefused() {
    CliResult r =
        cluster.client("submit", "sum", "--from", "1", "--to", "10", "--after", "jnosuchjob0");
    assertExit(2, r);
    assertTrue(r.err().contains("unknown job id jnosuchjob0 in --after jnosuchjob0"), r::toString);
  }

  @Test
  void failedAttemptsWaitTheirRetryDelayAndCodesNotToRetryFailAtOnce() throws Exception {
    CliResult retried =
        cluster.client(
            "submit",
            "exec",
            "--tasks",
            "1",
            "--max-attempts",
            "3",
            "--retry-delay",
            "1s",
            "--retry-backoff",
            "2",
            "--no-retry-exit-codes",
            "3,64-78",
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "exit 4");
    assertExit(1, retried);
    Job job = retried.job();
    assertEquals(JobState.FAILED, job.getState(), retried::toString);
    assertEquals(3, job.getAttempts());
    List<TaskFailure> failures = job.getFailuresList();
    assertEquals(3, failures.size(), job::toString);
    for (int i = 0; i < 2; i++) {
      TaskFailure failure = failures.get(i);
      long waitedMs =
          Timestamps.toMillis(failure.getRetryAt()) - Timestamps.toMillis(failure.getTime());
      assertEquals(1_000L << i, waitedMs, failure::toString);
      assertTrue(
          Timestamps.toMillis(failures.get(i + 1).getTime())
              >= Timestamps.toMillis(failure.getRetryAt()),
          () -> "attempt " + (failure.getAttempt() + 1) + " ran before its retry time: " + job);
      assertEquals(4, failure.getExitCode());
    }
    assertFalse(failures.get(2).hasRetryAt());

    CliResult notRetried =
        cluster.client(
            "submit",
            "exec",
            "--tasks",
            "1",
            "--max-attempts",
            "3",
            "--retry-delay",
            "1s",
            "--no-retry-exit-codes",
            "3,64-78",
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "exit 65");
    assertExit(1, notRetried);
    Job once = notRetried.job();
    assertEquals(1, once.getAttempts(), notRetried::toString);
    assertEquals(
        "1 of 1 tasks failed; first: task 0: exit 65 (exit code 65 is not retried)",
        once.getError());
  }

  @Test
  void retriedFailuresShowInStatusWithTheirTimes() throws Exception {
    Job job =
        submit(
            "exec",
            "--tasks",
            "1",
            "--max-attempts",
            "2",
            "--retry-delay",
            "1m",
            "--retry-on-error",
            "--",
            "sh",
            "-c",
            "exit 5");
    Await.until(
        "the first attempt to fail",
        RUN_DEADLINE,
        () -> status(job.getId()).getFailuresCount() == 1,
        cluster::logTails);
    CliResult shown = cluster.client("status", job.getId());
    assertExit(0, shown);
    assertTrue(shown.out().contains("waiting    1 task waits to be retried"), shown::toString);
    assertTrue(
        shown.out().matches("(?s).*task 0, attempt 1 on w1 at [-0-9: ]+: exit 5; retried at .*"),
        shown::toString);
    CliResult cancelled = cluster.client("cancel", job.getId(), "--json");
    assertExit(0, cancelled);
    assertEquals(JobState.CANCELLED, cancelled.job().getState());
    assertEquals(1, cancelled.job().getTasksNeverStarted());
  }
}
