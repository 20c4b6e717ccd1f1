package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.weft.v1.Dependency;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.SumParams;
import dev.weft.v1.TaskAssignment;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Jobs that wait for others ({@code JobSpec.after}) in the core, on a fake clock: WAITING until the
 * jobs they name end, released or failed by how those ended, cancelled while waiting, and waiting
 * again across a coordinator restart (a real SQLite journal in a temporary directory).
 */
final class JobDependenciesTest {
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

  /** {@code spec} waiting for {@code id} to succeed. */
  private static JobSpec after(JobSpec spec, String id) {
    return spec.toBuilder().addAfter(Dependency.newBuilder().setJobId(id)).build();
  }

  /** {@code spec} waiting for {@code id} to end, whatever its end. */
  private static JobSpec afterAny(JobSpec spec, String id) {
    return spec.toBuilder().addAfter(Dependency.newBuilder().setJobId(id).setAny(true)).build();
  }

  /** Fails {@code task} as a failure of the task's own, not retried. */
  private static void broken(CoreHarness.Link worker, TaskAssignment task) {
    worker.fail(task, r -> r.setApplicationError(true).setError("boom"));
  }

  private String submitAndFail(CoreHarness.Link worker) {
    String id = core.submit(sum(1));
    broken(worker, worker.newTask());
    assertEquals(JobState.FAILED, core.job(id).getState());
    return id;
  }

  @Test
  void aJobWaitsForItsDependencyAndRunsOnceItSucceeds() {
    String a = core.submit(sum(1));
    String b = core.submit(after(sum(2), a));
    Job waiting = core.job(b);
    assertEquals(JobState.WAITING, waiting.getState());
    assertEquals("until job " + a + " succeeds", waiting.getWaitingReason());

    CoreHarness.Link worker = core.attach("w1", 3);
    TaskAssignment task = worker.newTask();
    assertEquals(a, task.getJobId(), "only the job it waits for runs");
    worker.succeed(task);

    List<TaskAssignment> released = worker.newTasks();
    assertEquals(List.of(b, b), released.stream().map(TaskAssignment::getJobId).toList());
    assertEquals(JobState.RUNNING, core.job(b).getState());
    assertEquals("", core.job(b).getWaitingReason());
    released.forEach(worker::succeed);
    assertEquals(JobState.SUCCEEDED, core.job(b).getState());
  }

  @Test
  void aJobWaitsForAllItNamesAndSaysWhichAreLeft() {
    String a = core.submit(sum(1));
    String c = core.submit(sum(1));
    String b = core.submit(afterAny(after(sum(1), a), c));
    assertEquals(
        "until job " + a + " succeeds and job " + c + " ends", core.job(b).getWaitingReason());
    CoreHarness.Link worker = core.attach("w1", 1);
    worker.succeed(worker.newTask());
    assertEquals(JobState.WAITING, core.job(b).getState());
    assertEquals("until job " + c + " ends", core.job(b).getWaitingReason());
    broken(worker, worker.newTask());
    assertEquals(JobState.FAILED, core.job(c).getState());
    assertEquals(b, worker.newTask().getJobId(), ":any runs after a failure too");
  }

  @Test
  void theReasonNamesEveryJobLeftAndWhatItWaitsFor() {
    String a = core.submit(sum(1));
    String b = core.submit(sum(1));
    String c = core.submit(sum(1));
    String d = core.submit(afterAny(after(after(sum(1), a), b), c));
    assertEquals(
        "until jobs " + a + ", " + b + " succeed and job " + c + " ends",
        core.job(d).getWaitingReason());
  }

  @Test
  void aFailedDependencyFailsTheWaitingJobAtOnceSayingWhy() {
    String a = core.submit(sum(1));
    String b = core.submit(after(sum(3), a));
    CoreHarness.Link worker = core.attach("w1", 2);
    broken(worker, worker.newTask());

    Job failed = core.job(b);
    assertEquals(JobState.FAILED, failed.getState(), failed::toString);
    assertEquals(
        "job "
            + a
            + " it depends on (--after "
            + a
            + ") ended FAILED: 1 of 1 tasks failed; first: task 0: boom",
        failed.getError());
    assertEquals(3, failed.getTasksNeverStarted());
    assertEquals(0, failed.getAttempts());
    assertEquals(List.of(), worker.newTasks());
  }

  @Test
  void aFailureRunsDownAChainOfWaitingJobs() {
    String a = core.submit(sum(1));
    String b = core.submit(after(sum(1), a));
    String c = core.submit(after(sum(1), b));
    String d = core.submit(afterAny(sum(1), c));
    CoreHarness.Link worker = core.attach("w1", 1);
    broken(worker, worker.newTask());

    assertEquals(JobState.FAILED, core.job(b).getState());
    Job third = core.job(c);
    assertEquals(JobState.FAILED, third.getState());
    assertEquals(
        "job "
            + b
            + " it depends on (--after "
            + b
            + ") ended FAILED: job "
            + a
            + " it depends on (--after "
            + a
            + ") ended FAILED: 1 of 1 tasks failed; first: task"
            + " 0: boom",
        third.getError());
    assertEquals(d, worker.newTask().getJobId(), "the :any job at the end runs");
  }

  @Test
  void anyDependencyReleasesTheJobWhenItIsCancelled() {
    String a = core.submit(sum(1));
    String b = core.submit(afterAny(sum(1), a));
    String c = core.submit(after(sum(1), a));
    core.scheduler().cancel(a, "", -1);
    core.cycle();
    assertEquals(JobState.QUEUED, core.job(b).getState());
    Job failed = core.job(c);
    assertEquals(JobState.FAILED, failed.getState());
    assertEquals(
        "job " + a + " it depends on (--after " + a + ") ended CANCELLED: cancelled by request",
        failed.getError());
  }

  @Test
  void dependenciesThatHaveAlreadyEndedAreJudgedAtSubmit() {
    CoreHarness.Link worker = core.attach("w1", 1);
    String failed = submitAndFail(worker);
    String succeeded = core.submit(sum(1));
    worker.succeed(worker.newTask());

    Job refused = core.job(core.submit(after(sum(1), failed)));
    assertEquals(JobState.FAILED, refused.getState());
    assertEquals(
        "job "
            + failed
            + " it depends on (--after "
            + failed
            + ") ended FAILED: 1 of 1 tasks"
            + " failed; first: task 0: boom",
        refused.getError());
    String runs = core.submit(after(afterAny(sum(1), failed), succeeded));
    assertEquals(runs, worker.newTask().getJobId());
  }

  @Test
  void anUnknownOrNotYetExistingJobIdIsRefusedAndNothingIsAdmitted() {
    // Ids are the coordinator's: a job can only name jobs that exist, so no cycle can form.
    String next = "j" + "0".repeat(10);
    StatusRuntimeException refused =
        assertThrows(StatusRuntimeException.class, () -> core.submit(after(sum(1), next)));
    assertEquals(Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode());
    assertEquals(
        "after: unknown job id "
            + next
            + " in --after "
            + next
            + " (no job of that id is unfinished or kept among the finished; a job can wait only"
            + " for jobs submitted before it)",
        refused.getStatus().getDescription());
    assertEquals(List.of(), core.scheduler().list(Set.of(), 10));
  }

  @Test
  void cancellingAWaitingJobCancelsItAndNothingOfItRunsLater() {
    String a = core.submit(sum(1));
    String b = core.submit(after(sum(2), a));
    var outcome = core.scheduler().cancel(b, "", -1);
    assertEquals(true, outcome.getValue());
    Job cancelled = core.job(b);
    assertEquals(JobState.CANCELLED, cancelled.getState());
    assertEquals(2, cancelled.getTasksNeverStarted());
    assertEquals("", cancelled.getWaitingReason());

    CoreHarness.Link worker = core.attach("w1", 2);
    worker.succeed(worker.newTask());
    assertEquals(JobState.SUCCEEDED, core.job(a).getState());
    assertEquals(List.of(), worker.newTasks());
    assertEquals(JobState.CANCELLED, core.job(b).getState());
  }

  @Test
  void waitingJobsCountAsUnfinishedAndAreListedAsWaiting() {
    core.close();
    core = new CoreHarness(time, Journal.NONE, List.of(), c -> c.maxUnfinishedJobs(2));
    String a = core.submit(sum(1));
    String b = core.submit(after(sum(1), a));
    StatusRuntimeException full =
        assertThrows(StatusRuntimeException.class, () -> core.submit(sum(1)));
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode());
    assertEquals(
        List.of(b),
        core.scheduler().list(Set.of(JobState.WAITING), 10).stream().map(Job::getId).toList());
  }

  @Test
  void aWaitingJobWaitsAgainAfterARestartAndIsReleased() throws Exception {
    core.close();
    SqliteJournal first = SqliteJournal.open(dataDir, Duration.ofDays(7), 100);
    first.start(() -> {}, (job, why) -> {});
    core = new CoreHarness(time, first, first.saved(), config -> config);
    String a = core.submit(sum(1));
    String b = core.submit(after(sum(1), a));
    String c = core.submit(afterAny(sum(1), b));
    first.close();
    core.close();

    try (SqliteJournal again = SqliteJournal.open(dataDir, Duration.ofDays(7), 100)) {
      again.start(() -> {}, (job, why) -> {});
      core = new CoreHarness(time, again, again.saved(), config -> config);
      assertEquals(JobState.QUEUED, core.job(a).getState());
      Job waiting = core.job(b);
      assertEquals(JobState.WAITING, waiting.getState());
      assertEquals("until job " + a + " succeeds", waiting.getWaitingReason());
      assertEquals("until job " + b + " ends", core.job(c).getWaitingReason());

      CoreHarness.Link worker = core.attach("w1", 2);
      TaskAssignment first1 = worker.newTask();
      assertEquals(a, first1.getJobId());
      worker.succeed(first1);
      TaskAssignment second = worker.newTask();
      assertEquals(b, second.getJobId());
      worker.succeed(second);
      assertEquals(c, worker.newTask().getJobId());
    }
  }

  @Test
  void afterARestartADependencyForgottenMeanwhileFailsOkAndReleasesAny() throws Exception {
    core.close();
    SqliteJournal first = SqliteJournal.open(dataDir, Duration.ofDays(7), 100);
    first.start(() -> {}, (job, why) -> {});
    core = new CoreHarness(time, first, first.saved(), config -> config);
    CoreHarness.Link worker = core.attach("w1", 1);
    String a = core.submit(sum(1));
    worker.succeed(worker.newTask());
    core.advance(1_000);
    core.submit(sum(1));
    worker.succeed(worker.newTask());
    // Released, but not started before the stop: the worker's one slot stays taken.
    core.submit(sum(1));
    worker.newTask();
    String ok = core.submit(after(sum(1), a));
    String any = core.submit(afterAny(sum(1), a));
    assertEquals(JobState.QUEUED, core.job(ok).getState());
    first.close();
    core.close();

    // Only the newest finished job is kept: a is forgotten as the coordinator starts again.
    try (SqliteJournal again = SqliteJournal.open(dataDir, Duration.ofDays(7), 1)) {
      again.start(() -> {}, (job, why) -> {});
      core = new CoreHarness(time, again, again.saved(), config -> config);
      assertThrows(StatusRuntimeException.class, () -> core.job(a));
      Job failed = core.job(ok);
      assertEquals(JobState.FAILED, failed.getState(), failed::toString);
      assertEquals(
          "job "
              + a
              + " it depends on (--after "
              + a
              + ") is no longer known (forgotten after its retention), so whether it succeeded is"
              + " unknown",
          failed.getError());
      assertEquals(JobState.QUEUED, core.job(any).getState());
    }
  }
}
