package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExitCodeRange;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.RetryPolicy;
import dev.weft.v1.SumParams;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskFailure;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Task timeouts and retry policies in the core, on a fake clock: the waits between attempts, exit
 * codes that are not retried, timed-out attempts, a cancel during a wait, and waits that outlive a
 * coordinator restart (a real SQLite journal in a temporary directory).
 */
final class RetryPolicyTest {
  private final CoreHarness.Time time = new CoreHarness.Time();
  private CoreHarness core = new CoreHarness(time);

  @TempDir private Path dataDir;

  @AfterEach
  void tearDown() {
    core.close();
  }

  private static JobSpec sum(int tasks) {
    return JobSpec.newBuilder()
        .setSum(SumParams.newBuilder().setFrom(1).setTo(100))
        .setTasks(tasks)
        .build();
  }

  private static JobSpec exec(int tasks) {
    return JobSpec.newBuilder()
        .setExec(ExecParams.newBuilder().addCommand("true"))
        .setTasks(tasks)
        .build();
  }

  private static RetryPolicy.Builder delays(long delayMs, double backoff, long maxDelayMs) {
    RetryPolicy.Builder policy =
        RetryPolicy.newBuilder().setDelay(Durations.fromMillis(delayMs)).setBackoff(backoff);
    if (maxDelayMs > 0) {
      policy.setMaxDelay(Durations.fromMillis(maxDelayMs));
    }
    return policy;
  }

  /** Fails {@code task} as a lost or broken worker would (not the task's own failure). */
  private static void workerError(CoreHarness.Link worker, TaskAssignment task) {
    worker.fail(task, result -> result.setError("worker trouble"));
  }

  @Test
  void failedAttemptsWaitOneTwoFourSecondsCappedAtTheMaximumBeforeRunningAgain() {
    JobSpec spec = sum(1).toBuilder().setMaxAttempts(5).setRetry(delays(1_000, 2, 3_000)).build();
    String id = core.submit(spec);
    CoreHarness.Link worker = core.attach("w1", 1);

    // Each failure doubles the wait, until the maximum caps it.
    long[] waits = {1_000, 2_000, 3_000, 3_000};
    for (int n = 1; n <= waits.length; n++) {
      TaskAssignment task = worker.newTask();
      assertEquals(n, task.getAttempt());
      long failedAt = core.epochMs();
      workerError(worker, task);

      Job waiting = core.job(id);
      TaskFailure failure = waiting.getFailures(n - 1);
      assertEquals(n, failure.getAttempt());
      assertEquals(failedAt, Timestamps.toMillis(failure.getTime()));
      assertEquals(failedAt + waits[n - 1], Timestamps.toMillis(failure.getRetryAt()));
      assertEquals(
          "1 task waits to be retried; the next runs again at "
              + java.time.Instant.ofEpochMilli(failedAt + waits[n - 1]),
          waiting.getWaitingReason());
      core.advance(waits[n - 1] - 1);
      assertEquals(List.of(), worker.newTasks(), "attempt " + (n + 1) + " before its delay");
      core.advance(1);
    }
    TaskAssignment last = worker.newTask();
    assertEquals(5, last.getAttempt());
    assertEquals("", core.job(id).getWaitingReason());
    worker.succeed(last);

    Job done = core.job(id);
    assertEquals(JobState.SUCCEEDED, done.getState(), done::toString);
    assertEquals(5, done.getAttempts());
    assertEquals(4, done.getFailuresCount());
  }

  @Test
  void eachWaitingTaskRunsAgainAtItsOwnTimeEvenWhenALaterFailureWaitsLess() {
    core.submit(sum(2).toBuilder().setMaxAttempts(4).setRetry(delays(1_000, 4, 0)).build());
    CoreHarness.Link worker = core.attach("w1", 2);
    List<TaskAssignment> tasks = worker.newTasks();
    workerError(worker, tasks.get(0));
    core.advance(1_000);
    workerError(worker, worker.newTask()); // task 0 again: this wait is four times as long
    core.advance(500);
    workerError(worker, tasks.get(1)); // task 1's first wait ends before task 0's second

    core.advance(999);
    assertEquals(List.of(), worker.newTasks());
    core.advance(1);
    assertEquals(1, worker.newTask().getTask());
    core.advance(4_000 - 500 - 1_000 - 1);
    assertEquals(List.of(), worker.newTasks());
    core.advance(1);
    TaskAssignment third = worker.newTask();
    assertEquals(0, third.getTask());
    assertEquals(3, third.getAttempt());
  }

  @Test
  void aWallClockSetBackDoesNotStretchAWait() {
    core.submit(sum(1).toBuilder().setRetry(delays(2_000, 1, 0)).build());
    CoreHarness.Link worker = core.attach("w1", 1);
    workerError(worker, worker.newTask());
    time.epochMs -= 3_600_000; // as when the host's clock is corrected
    core.advance(1_999);
    assertEquals(List.of(), worker.newTasks());
    core.advance(1);
    assertEquals(2, worker.newTask().getAttempt());
  }

  @Test
  void theLastAttemptFailsTheTaskWithoutAWait() {
    String id =
        core.submit(sum(1).toBuilder().setMaxAttempts(2).setRetry(delays(1_000, 1, 0)).build());
    CoreHarness.Link worker = core.attach("w1", 1);
    workerError(worker, worker.newTask());
    core.advance(1_000);
    workerError(worker, worker.newTask());

    Job failed = core.job(id);
    assertEquals(JobState.FAILED, failed.getState());
    assertEquals(
        "1 of 1 tasks failed; first: task 0 after 2 attempts: worker trouble", failed.getError());
    assertFalse(failed.getFailures(1).hasRetryAt(), failed::toString);
  }

  @Test
  void anExitCodeAmongTheNoRetryCodesFailsTheTaskAtOnceAndOthersAreRetried() {
    JobSpec spec =
        exec(3).toBuilder()
            .setMaxAttempts(3)
            .setRetry(
                RetryPolicy.newBuilder()
                    .addNoRetryExitCodes(ExitCodeRange.newBuilder().setFrom(2).setTo(2))
                    .addNoRetryExitCodes(ExitCodeRange.newBuilder().setFrom(64).setTo(78)))
            .build();
    String id = core.submit(spec);
    CoreHarness.Link worker = core.attach("w1", 3);
    List<TaskAssignment> first = worker.newTasks();
    assertEquals(3, first.size());
    // Task 0 exits 65 (said by the worker), task 2 exits 2 (only its exec output says so).
    worker.fail(
        first.get(0),
        r ->
            r.setApplicationError(true)
                .setError("exit 65: usage")
                .setExitCode(65)
                .setOutput(CoreHarness.exited(65)));
    worker.fail(
        first.get(2),
        r -> r.setApplicationError(true).setError("exit 2").setOutput(CoreHarness.exited(2)));
    // Task 1 exits 1: not among the codes, so it is retried without --retry-on-error.
    worker.fail(
        first.get(1),
        r ->
            r.setApplicationError(true)
                .setError("exit 1")
                .setExitCode(1)
                .setOutput(CoreHarness.exited(1)));
    TaskAssignment again = worker.newTask();
    assertEquals(1, again.getTask());
    assertEquals(2, again.getAttempt());
    worker.succeed(again);

    Job job = core.job(id);
    assertEquals(JobState.FAILED, job.getState(), job::toString);
    assertEquals(
        "2 of 3 tasks failed; first: task 0: exit 65: usage (exit code 65 is not retried)",
        job.getError());
    assertEquals(65, job.getFailures(0).getExitCode());
    assertEquals(2, job.getFailures(1).getExitCode());
    assertEquals(1, job.getFailures(2).getExitCode());
    assertEquals(4, job.getAttempts());
  }

  @Test
  void applicationErrorsAreNotRetriedWithoutRetryOnErrorOrNoRetryCodes() {
    String id = core.submit(exec(1).toBuilder().setRetry(delays(1_000, 1, 0)).build());
    CoreHarness.Link worker = core.attach("w1", 1);
    worker.fail(
        worker.newTask(),
        r -> r.setApplicationError(true).setError("exit 1").setOutput(CoreHarness.exited(1)));
    Job job = core.job(id);
    assertEquals(JobState.FAILED, job.getState());
    assertEquals("1 of 1 tasks failed; first: task 0: exit 1", job.getError());
  }

  @Test
  void aTimedOutAttemptIsAFailedAttemptRetriedWithoutRetryOnErrorWhateverItsExitCode() {
    JobSpec spec =
        exec(1).toBuilder()
            .setMaxAttempts(2)
            .setTaskTimeout(Durations.fromSeconds(5))
            .setRetry(
                delays(500, 1, 0)
                    .addNoRetryExitCodes(ExitCodeRange.newBuilder().setFrom(143).setTo(143)))
            .build();
    String id = core.submit(spec);
    CoreHarness.Link worker = core.attach("w1", 1);
    TaskAssignment first = worker.newTask();
    assertEquals(5_000, first.getTimeoutMs());

    // As the worker reports a timeout: not ok, not the task's own error, timed out.
    worker.fail(first, r -> r.setTimedOut(true).setExitCode(143));
    Job retrying = core.job(id);
    assertEquals(JobState.RUNNING, retrying.getState());
    assertEquals("timed out after 5s", retrying.getFailures(0).getError());
    assertEquals(143, retrying.getFailures(0).getExitCode(), "recorded, though not a verdict");
    core.advance(500);
    TaskAssignment second = worker.newTask();
    assertEquals(2, second.getAttempt());
    worker.fail(second, r -> r.setTimedOut(true).setError("timed out after 5000 ms; stopped"));

    Job failed = core.job(id);
    assertEquals(JobState.FAILED, failed.getState());
    assertEquals(
        "1 of 1 tasks failed; first: task 0 after 2 attempts: timed out after 5000 ms; stopped",
        failed.getError());
    assertEquals(2, failed.getAttempts());
  }

  @Test
  void aJobWithoutATaskTimeoutSendsNone() {
    core.submit(sum(1));
    assertEquals(0, core.attach("w1", 1).newTask().getTimeoutMs());
  }

  @Test
  void aCancelWhileARetryWaitsEndsTheJobAndNothingRunsLater() {
    String id = core.submit(sum(2).toBuilder().setRetry(delays(10_000, 1, 0)).build());
    CoreHarness.Link worker = core.attach("w1", 2);
    List<TaskAssignment> tasks = worker.newTasks();
    worker.succeed(tasks.get(0));
    workerError(worker, tasks.get(1));

    core.scheduler().cancel(id, "", -1);
    core.cycle();
    Job cancelled = core.job(id);
    assertEquals(JobState.CANCELLED, cancelled.getState(), cancelled::toString);
    assertEquals(1, cancelled.getTasksNeverStarted());
    assertEquals("", cancelled.getWaitingReason());
    core.advance(20_000);
    assertEquals(List.of(), worker.newTasks());
  }

  @Test
  void aTimeoutOfTheJobWhileARetryWaitsFailsItAndNothingRunsLater() {
    String id =
        core.submit(
            sum(1).toBuilder()
                .setTimeout(Durations.fromSeconds(3))
                .setRetry(delays(10_000, 1, 0))
                .build());
    CoreHarness.Link worker = core.attach("w1", 1);
    workerError(worker, worker.newTask());
    core.advance(3_000);
    Job failed = core.job(id);
    assertEquals(JobState.FAILED, failed.getState());
    assertEquals("timed out after 3 s", failed.getError());
    assertEquals(1, failed.getTasksNeverStarted());
    core.advance(10_000);
    assertEquals(List.of(), worker.newTasks());
  }

  @Test
  void retryWaitsAttemptCountsAndFailuresSurviveACoordinatorRestart() throws Exception {
    core.close();
    SqliteJournal first = SqliteJournal.open(dataDir, Duration.ofDays(7), 100);
    first.start(() -> {}, (job, why) -> {});
    core = new CoreHarness(time, first, first.saved(), config -> config);
    String id =
        core.submit(sum(3).toBuilder().setMaxAttempts(4).setRetry(delays(10_000, 2, 0)).build());
    CoreHarness.Link worker = core.attach("w1", 3);
    List<TaskAssignment> tasks = worker.newTasks();
    worker.succeed(tasks.get(0));
    long failedAt = core.epochMs();
    workerError(worker, tasks.get(1)); // due first
    core.advance(1_000);
    workerError(worker, tasks.get(2)); // due a second later
    core.advance(9_500);
    TaskAssignment second = worker.newTask();
    assertEquals(1, second.getTask());
    workerError(worker, second); // its second failure waits twice as long
    core.advance(3_000);
    // Task 2's second attempt is running as the coordinator stops.
    assertEquals(2, worker.newTask().getTask());
    first.close(); // as the coordinator stops; what it recorded is written
    core.close();

    SqliteJournal again = SqliteJournal.open(dataDir, Duration.ofDays(7), 100);
    again.start(() -> {}, (job, why) -> {});
    try (again) {
      core = new CoreHarness(time, again, again.saved(), config -> config);
      Job resumed = core.job(id);
      assertEquals(JobState.RUNNING, resumed.getState(), resumed::toString);
      assertEquals(1, resumed.getTasksDone());
      assertEquals(
          List.of(1, 2, 1),
          resumed.getFailuresList().stream().map(TaskFailure::getTask).toList(),
          "the failures, in the order they happened");
      assertEquals(failedAt, Timestamps.toMillis(resumed.getFailures(0).getTime()));
      assertEquals(failedAt + 10_000, Timestamps.toMillis(resumed.getFailures(0).getRetryAt()));

      CoreHarness.Link after = core.attach("w2", 3);
      // Task 2 had failed once: its running attempt is not counted, so it runs its second.
      TaskAssignment task2 = after.newTask();
      assertEquals(2, task2.getTask());
      assertEquals(2, task2.getAttempt());
      after.succeed(task2);
      long left = failedAt + 30_500 - core.epochMs();
      assertTrue(left > 1_000, "the test leaves some of the wait: " + left);
      core.advance(left - 1);
      assertEquals(List.of(), after.newTasks(), "task 1 before its recorded retry time");
      core.advance(1);
      TaskAssignment task1 = after.newTask();
      assertEquals(1, task1.getTask());
      assertEquals(3, task1.getAttempt());
      after.succeed(task1);

      Job done = core.job(id);
      assertEquals(JobState.SUCCEEDED, done.getState(), done::toString);
      assertEquals(1 + 3 + 2, done.getAttempts());
      assertEquals(3, done.getFailuresCount());
    }
  }
}
