package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskContext;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.Credit;
import dev.weft.v1.DrainWorkerRequest;
import dev.weft.v1.ExecParams;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Heartbeat;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.PluginParams;
import dev.weft.v1.ResumeWorkerRequest;
import dev.weft.v1.SleepParams;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.SumParams;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import dev.weft.v1.WatchJobRequest;
import dev.weft.v1.WorkerInfo;
import dev.weft.v1.WorkerMessage;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every JobService and WorkerService call, over the in-process transport. */
class JobServiceTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  // How long a test watches for an assignment that must not come (it would come at once).
  private static final Duration WAIT_FOR_NOTHING = Duration.ofMillis(300);
  private static final JobKinds KINDS = JobKinds.load();

  // Each test's own journal, so no test touches the user's data dir or another test's lock.
  @TempDir private Path dataDir;
  private Coordinator coordinator;
  private ManagedChannel channel;
  private JobServiceGrpc.JobServiceBlockingStub jobs;
  private final List<TestWorker> workers = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    String name = InProcessServerBuilder.generateName();
    coordinator =
        Coordinator.start(
            new CoordinatorConfig().heartbeatIntervalMs(100).leaseMs(1_000).dataDir(dataDir),
            InProcessServerBuilder.forName(name),
            name);
    channel = InProcessChannelBuilder.forName(name).build();
    jobs = JobServiceGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void stop() throws Exception {
    workers.forEach(TestWorker::close);
    channel.shutdownNow();
    channel.awaitTermination(5, TimeUnit.SECONDS);
    coordinator.close();
  }

  private JobServiceGrpc.JobServiceBlockingStub jobs() {
    return jobs.withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  /** A worker that runs every task with the real kind, in the test's thread. */
  private TestWorker runningWorker(String id, int slots) {
    TestWorker worker =
        new TestWorker(channel, id, slots, List.copyOf(KINDS.names()), JobServiceTest::run);
    workers.add(worker);
    return worker;
  }

  private TestWorker holdingWorker(String id, int slots) {
    TestWorker worker = new TestWorker(channel, id, slots, List.copyOf(KINDS.names()), null);
    workers.add(worker);
    return worker;
  }

  static TaskResult run(TaskAssignment task) {
    try {
      ByteString output =
          KINDS
              .find(task.getKind())
              .orElseThrow()
              .run(
                  task.getInput(),
                  new TaskContext() {
                    @Override
                    public boolean isCancelled() {
                      return false;
                    }

                    @Override
                    public void onCancel(Runnable action) {}

                    @Override
                    public long graceMs() {
                      return 0;
                    }
                  });
      return TaskResult.newBuilder()
          .setAttemptId(task.getAttemptId())
          .setOk(true)
          .setOutput(output)
          .build();
    } catch (Exception e) {
      return TaskResult.newBuilder()
          .setAttemptId(task.getAttemptId())
          .setError(e.toString())
          .build();
    }
  }

  private Job submit(JobSpec spec) {
    return jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
  }

  private static JobSpec sum(long from, long to, int tasks) {
    return JobSpec.newBuilder()
        .setSum(SumParams.newBuilder().setFrom(from).setTo(to))
        .setTasks(tasks)
        .build();
  }

  private static JobSpec sleep(long ms, int tasks) {
    return JobSpec.newBuilder()
        .setSleep(SleepParams.newBuilder().setMs(ms))
        .setTasks(tasks)
        .build();
  }

  private Job awaitState(String id, JobState state) {
    awaitTrue(
        () -> jobs().getJob(GetJobRequest.newBuilder().setId(id).build()).getState() == state,
        "job " + id + " to reach " + state);
    return jobs().getJob(GetJobRequest.newBuilder().setId(id).build());
  }

  private static void awaitTrue(BooleanSupplier condition, String what) {
    Await.until(condition, what, WAIT);
  }

  private static void assertStatus(Status.Code code, String messagePart, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    String description = String.valueOf(e.getStatus().getDescription());
    assertTrue(
        description.contains(messagePart), "'" + description + "' lacks '" + messagePart + "'");
  }

  @Test
  void aSubmissionSentAgainWithItsRequestIdGetsTheSameJob() {
    JobSpec spec = sum(1, 1_000, 4);
    SubmitJobRequest request =
        SubmitJobRequest.newBuilder().setSpec(spec).setRequestId("7f0c-retry.1:a_b").build();
    Job first = jobs().submitJob(request);
    Job again = jobs().submitJob(request);

    assertEquals(first.getId(), again.getId());
    assertEquals(1, jobs().listJobs(ListJobsRequest.getDefaultInstance()).getJobsCount());
    // A RunJob with that key watches the same job instead of making one.
    Iterator<JobEvent> events =
        jobs()
            .runJob(
                dev.weft.v1.RunJobRequest.newBuilder()
                    .setSpec(spec)
                    .setRequestId(request.getRequestId())
                    .build());
    assertEquals(first.getId(), events.next().getSnapshot().getId());
    assertEquals(1, jobs().listJobs(ListJobsRequest.getDefaultInstance()).getJobsCount());

    StatusRuntimeException other =
        assertThrows(
            StatusRuntimeException.class,
            () -> jobs().submitJob(request.toBuilder().setSpec(sum(1, 1_000, 5)).build()));
    assertEquals(Status.Code.ALREADY_EXISTS, other.getStatus().getCode());
    assertTrue(
        other.getStatus().getDescription().contains("was used for job " + first.getId()),
        other::getMessage);
    // Without a key, or with another, a submission is a new job.
    assertFalse(
        first
            .getId()
            .equals(jobs().submitJob(request.toBuilder().clearRequestId().build()).getId()));
    assertFalse(
        first
            .getId()
            .equals(jobs().submitJob(request.toBuilder().setRequestId("another").build()).getId()));
  }

  @Test
  void aRequestIdOutsideItsAlphabetIsRefusedSayingWhatIsAllowed() {
    for (String bad : List.of("has space", "x".repeat(129), "semi;colon", "ünï")) {
      StatusRuntimeException e =
          assertThrows(
              StatusRuntimeException.class,
              () ->
                  jobs()
                      .submitJob(
                          SubmitJobRequest.newBuilder()
                              .setSpec(sum(1, 10, 1))
                              .setRequestId(bad)
                              .build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), bad);
      assertTrue(
          e.getStatus().getDescription().startsWith("request_id: 1..128 characters of A-Z"),
          e::getMessage);
    }
    assertEquals(0, jobs().listJobs(ListJobsRequest.getDefaultInstance()).getJobsCount());
  }

  @Test
  void aRequestIdAClientPutsInTheSpecIsNotTakenAsOne() {
    JobSpec spec = sum(1, 10, 1).toBuilder().setRequestId("forged").build();
    Job first = jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
    Job second = jobs().submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
    assertEquals("", first.getSpec().getRequestId());
    assertFalse(first.getId().equals(second.getId()));
  }

  @Test
  void sumJobRunsToTheExactResult() {
    runningWorker("w1", 2);
    runningWorker("w2", 2);
    Job job = submit(sum(1, 10_000_000, 10));
    assertEquals(10, job.getTasksTotal());
    Job done = awaitState(job.getId(), JobState.SUCCEEDED);
    assertEquals("50000005000000", done.getResult().getSum().getSum());
    assertEquals(10, done.getTasksDone());
    assertEquals(10, done.getAttempts());
    assertTrue(done.hasStarted() && done.hasFinished());
  }

  @Test
  void badSpecsAreRejectedNamingTheField() {
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "spec: required",
        () -> jobs().submitJob(SubmitJobRequest.getDefaultInstance()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT, "params", () -> submit(JobSpec.getDefaultInstance()));
    assertStatus(Status.Code.INVALID_ARGUMENT, "sum.from", () -> submit(sum(10, 5, 1)));
    assertStatus(Status.Code.INVALID_ARGUMENT, "tasks", () -> submit(sum(1, 10, -1)));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "max_attempts",
        () -> submit(sum(1, 10, 1).toBuilder().setMaxAttempts(1000).build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "timeout",
        () -> submit(sum(1, 10, 1).toBuilder().setTimeout(Durations.fromSeconds(-5)).build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "plugin.kind",
        () ->
            submit(
                JobSpec.newBuilder().setPlugin(PluginParams.newBuilder().setKind("nope")).build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "exec.env: names starting with WEFT_ are weft's own settings, which tasks never see",
        () ->
            submit(
                JobSpec.newBuilder()
                    .setExec(
                        ExecParams.newBuilder().addCommand("printenv").putEnv("WEFT_TOKEN", "x"))
                    .build()));
  }

  @Test
  void unknownJobsAreNotFoundAndEmptyIdsInvalid() {
    assertStatus(
        Status.Code.NOT_FOUND,
        "no job with id 'jmissing'",
        () -> jobs().getJob(GetJobRequest.newBuilder().setId("jmissing").build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "id: required",
        () -> jobs().getJob(GetJobRequest.getDefaultInstance()));
    assertStatus(
        Status.Code.NOT_FOUND,
        "jmissing",
        () -> jobs().cancelJob(CancelJobRequest.newBuilder().setId("jmissing").build()));
    Iterator<JobEvent> events =
        jobs().watchJob(WatchJobRequest.newBuilder().setId("jmissing").build());
    assertStatus(Status.Code.NOT_FOUND, "jmissing", events::hasNext);
  }

  @Test
  void listJobsIsNewestFirstAndFilters() {
    Job first = submit(sum(1, 10, 1));
    Job second = submit(sum(1, 20, 1));
    List<Job> listed = jobs().listJobs(ListJobsRequest.getDefaultInstance()).getJobsList();
    assertEquals(List.of(second.getId(), first.getId()), listed.stream().map(Job::getId).toList());
    assertEquals(
        1, jobs().listJobs(ListJobsRequest.newBuilder().setLimit(1).build()).getJobsCount());
    assertEquals(
        0,
        jobs()
            .listJobs(ListJobsRequest.newBuilder().addStates(JobState.SUCCEEDED).build())
            .getJobsCount());
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "limit",
        () -> jobs().listJobs(ListJobsRequest.newBuilder().setLimit(-1).build()));
  }

  @Test
  void watchStartsWithASnapshotAndEndsWithTheFinishedJob() {
    TestWorker worker = holdingWorker("w1", 4);
    Job job = submit(sum(1, 100, 2));
    Iterator<JobEvent> events =
        jobs.withDeadlineAfter(10, TimeUnit.SECONDS)
            .watchJob(
                WatchJobRequest.newBuilder().setId(job.getId()).setIncludeTasks(true).build());
    JobEvent first = events.next();
    assertTrue(first.hasSnapshot());
    assertEquals(job.getId(), first.getSnapshot().getId());
    CompletableFuture.runAsync(
        () -> {
          try {
            worker.answer(run(worker.nextTask(WAIT)));
            worker.answer(run(worker.nextTask(WAIT)));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    JobEvent last = null;
    int taskEvents = 0;
    while (events.hasNext()) {
      last = events.next();
      if (last.hasTask()) {
        taskEvents++;
      }
    }
    assertEquals(2, taskEvents);
    assertTrue(last != null && last.hasFinished());
    assertEquals(JobState.SUCCEEDED, last.getFinished().getState());
    assertEquals("5050", last.getFinished().getResult().getSum().getSum());
  }

  @Test
  void cancelStopsQueuedAndRunningTasksAndIsANoOpOnceFinished() throws Exception {
    TestWorker worker = holdingWorker("w1", 1);
    Job job = submit(sleep(60_000, 3));
    TaskAssignment running = worker.nextTask(WAIT);
    CancelJobResponse first =
        jobs()
            .cancelJob(
                CancelJobRequest.newBuilder()
                    .setId(job.getId())
                    .setReason("test")
                    .setGrace(Durations.fromMillis(250))
                    .build());
    assertTrue(first.getCancelled());
    // Waiting for the running task to say how it stopped; the queued ones never start.
    assertEquals(JobState.CANCELLING, first.getJob().getState());
    assertEquals(2, first.getJob().getTasksNeverStarted());
    awaitTrue(() -> worker.cancelled.contains(running.getAttemptId()), "the running task's cancel");
    assertEquals(250, worker.cancelGraceMs.get(running.getAttemptId()));
    // The slot comes back with the cancelled result, which settles the job.
    worker.answer(
        TaskResult.newBuilder()
            .setAttemptId(running.getAttemptId())
            .setCancelled(true)
            .setStop(StopOutcome.EXITED_ON_TERM)
            .setError("exited on SIGTERM after 3 ms")
            .build());
    Job cancelled = awaitState(job.getId(), JobState.CANCELLED);
    assertEquals("test", cancelled.getError());
    assertEquals(1, cancelled.getTasksStopped());
    assertEquals(StopOutcome.EXITED_ON_TERM, cancelled.getStops(0).getOutcome());
    assertEquals("w1", cancelled.getStops(0).getWorkerId());
    assertEquals(running.getTask(), cancelled.getStops(0).getTask());

    CancelJobResponse second =
        jobs().cancelJob(CancelJobRequest.newBuilder().setId(job.getId()).build());
    assertFalse(second.getCancelled());
    assertEquals(JobState.CANCELLED, second.getJob().getState());
    Job next = submit(sum(1, 3, 1));
    worker.answer(run(worker.nextTask(WAIT)));
    awaitState(next.getId(), JobState.SUCCEEDED);
    assertEquals(null, worker.pollTask());
  }

  @Test
  void aSubmissionWhoseCallerGaveUpIsNotAccepted(@TempDir Path otherDataDir) throws Exception {
    // The caller's context is cancelled before the call reaches the service, as when its
    // deadline passes while the request waits in the server's queue.
    ServerInterceptor callerGone =
        new ServerInterceptor() {
          @Override
          public <Q, A> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
            Context.CancellableContext gone = Context.current().withCancellation();
            gone.cancel(null);
            return Contexts.interceptCall(gone, call, headers, next);
          }
        };
    String name = InProcessServerBuilder.generateName();
    try (Coordinator late =
        Coordinator.start(
            new CoordinatorConfig().dataDir(otherDataDir),
            InProcessServerBuilder.forName(name).intercept(callerGone),
            name)) {
      ManagedChannel lateChannel = InProcessChannelBuilder.forName(name).build();
      try {
        JobServiceGrpc.JobServiceBlockingStub lateJobs =
            JobServiceGrpc.newBlockingStub(lateChannel).withDeadlineAfter(10, TimeUnit.SECONDS);
        StatusRuntimeException e =
            assertThrows(
                StatusRuntimeException.class,
                () ->
                    lateJobs.submitJob(
                        SubmitJobRequest.newBuilder().setSpec(sum(1, 10, 1)).build()));
        assertEquals(Status.Code.CANCELLED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("not submitted"), e::toString);
        assertEquals(
            0,
            lateJobs.listJobs(ListJobsRequest.getDefaultInstance()).getJobsCount(),
            "no job was made");
      } finally {
        lateChannel.shutdownNow();
      }
    }
  }

  @Test
  void aStuckTaskKeepsItsSlotUntilItsCreditAndShowsInTheWorkerList() throws Exception {
    TestWorker worker = holdingWorker("wedged", 1);
    Job job = submit(sleep(60_000, 1));
    TaskAssignment running = worker.nextTask(WAIT);
    jobs().cancelJob(CancelJobRequest.newBuilder().setId(job.getId()).build());
    awaitTrue(() -> worker.cancelled.contains(running.getAttemptId()), "the running task's cancel");
    worker.answer(
        TaskResult.newBuilder()
            .setAttemptId(running.getAttemptId())
            .setCancelled(true)
            .setStop(StopOutcome.STUCK)
            .setError("still running 1100 ms after its cancel")
            .build());
    worker.send(
        WorkerMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().setStuck(1)).build());
    awaitState(job.getId(), JobState.CANCELLED);
    awaitTrue(
        () ->
            jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkers(0).getStuck()
                == 1,
        "the worker list to show the stuck slot");

    // The stuck task holds the worker's only slot: a new job waits for it.
    Job next = submit(sum(1, 3, 1));
    assertEquals(null, worker.pollTask(WAIT_FOR_NOTHING));
    worker.send(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setSlots(1)).build());
    worker.send(
        WorkerMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().setStuck(0)).build());
    worker.answer(run(worker.nextTask(WAIT)));
    awaitState(next.getId(), JobState.SUCCEEDED);
    assertEquals(
        0, jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkers(0).getStuck());
  }

  @Test
  void aCancelNobodyAnswersEndsWhenTheWorkerIsLost() throws Exception {
    TestWorker worker = holdingWorker("mute", 1);
    Job job = submit(sleep(60_000, 1));
    worker.nextTask(WAIT);
    jobs()
        .cancelJob(
            CancelJobRequest.newBuilder().setId(job.getId()).setGrace(Durations.ZERO).build());
    assertEquals(
        JobState.CANCELLING,
        jobs().getJob(GetJobRequest.newBuilder().setId(job.getId()).build()).getState());
    worker.crash();
    Job cancelled = awaitState(job.getId(), JobState.CANCELLED);
    assertEquals(StopOutcome.WORKER_LOST, cancelled.getStops(0).getOutcome());
  }

  @Test
  void aTimedOutJobStopsItsTasksAndFailsWithTheTimeout() throws Exception {
    TestWorker worker = holdingWorker("slow", 1);
    Job job = submit(sleep(60_000, 2).toBuilder().setTimeout(Durations.fromMillis(300)).build());
    TaskAssignment running = worker.nextTask(WAIT);
    awaitTrue(() -> worker.cancelled.contains(running.getAttemptId()), "the timeout's cancel");
    worker.answer(
        TaskResult.newBuilder()
            .setAttemptId(running.getAttemptId())
            .setCancelled(true)
            .setStop(StopOutcome.STOPPED)
            .build());
    Job failed = awaitState(job.getId(), JobState.FAILED);
    assertTrue(failed.getError().contains("timed out after"), failed::toString);
    assertEquals(1, failed.getTasksStopped());
    assertEquals(1, failed.getTasksNeverStarted());
  }

  @Test
  void aNegativeCancelGraceIsRefusedNamingTheField() {
    Job job = submit(sleep(60_000, 1));
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                jobs()
                    .cancelJob(
                        CancelJobRequest.newBuilder()
                            .setId(job.getId())
                            .setGrace(Durations.fromMillis(-5))
                            .build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("grace:"), e::toString);
  }

  @Test
  void listWorkersShowsTransportAndSlots() {
    runningWorker("w-list", 3);
    awaitTrue(
        () -> jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersCount() == 1,
        "the worker to attach");
    WorkerInfo info = jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkers(0);
    assertEquals("w-list", info.getId());
    assertEquals("grpc", info.getTransport());
    assertEquals(3, info.getSlots());
    assertEquals("test-host", info.getHost());
  }

  @Test
  void aDrainedWorkerFinishesWhatItHasGetsNothingNewAndComesBackOnResume() throws Exception {
    TestWorker worker = holdingWorker("w-drain", 2);
    Job first = submit(sum(1, 10, 1));
    TaskAssignment running = worker.nextTask(WAIT);

    WorkerInfo info =
        jobs()
            .drainWorker(
                DrainWorkerRequest.newBuilder().setId("w-drain").setReason("disk swap").build());
    assertEquals("drained", info.getState());
    assertEquals("disk swap", info.getDrainReason());
    Job second = submit(sum(1, 3, 1));
    assertEquals(null, worker.pollTask(WAIT_FOR_NOTHING), "a drained worker gets nothing new");
    worker.answer(run(running)); // what it had still counts
    assertEquals("55", awaitState(first.getId(), JobState.SUCCEEDED).getResult().getSum().getSum());
    assertEquals(null, worker.pollTask(WAIT_FOR_NOTHING));

    // Attaching again under the same id does not undo the drain.
    worker.close();
    awaitTrue(
        () -> jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersCount() == 0,
        "the worker to detach");
    TestWorker again = holdingWorker("w-drain", 2);
    awaitTrue(
        () -> jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersCount() == 1,
        "the worker to attach again");
    assertEquals(
        "drained",
        jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkers(0).getState());
    assertEquals(null, again.pollTask(WAIT_FOR_NOTHING));

    info = jobs().resumeWorker(ResumeWorkerRequest.newBuilder().setId("w-drain").build());
    assertEquals("ready", info.getState());
    assertEquals("", info.getDrainReason());
    again.answer(run(again.nextTask(WAIT)));
    assertEquals("6", awaitState(second.getId(), JobState.SUCCEEDED).getResult().getSum().getSum());
  }

  @Test
  void drainingAnUnknownOrUnnamedWorkerIsRefused() {
    assertStatus(
        Status.Code.NOT_FOUND,
        "no worker with id 'nobody' is attached",
        () -> jobs().drainWorker(DrainWorkerRequest.newBuilder().setId("nobody").build()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "id: required",
        () -> jobs().resumeWorker(ResumeWorkerRequest.getDefaultInstance()));
    assertStatus(
        Status.Code.INVALID_ARGUMENT,
        "reason: at most 1000 characters",
        () ->
            jobs()
                .drainWorker(
                    DrainWorkerRequest.newBuilder()
                        .setId("w")
                        .setReason("x".repeat(1001))
                        .build()));
  }

  @Test
  void aLostWorkersTasksGoBackToTheQueueAndItsLateResultsAreDropped() throws Exception {
    TestWorker doomed = holdingWorker("doomed", 2);
    Job job = submit(sum(1, 1000, 2));
    TaskAssignment a = doomed.nextTask(WAIT);
    TaskAssignment b = doomed.nextTask(WAIT);
    doomed.crash();
    runningWorker("survivor", 2);
    Job done = awaitState(job.getId(), JobState.SUCCEEDED);
    assertEquals("500500", done.getResult().getSum().getSum());
    assertEquals(4, done.getAttempts());
    assertTrue(a.getAttemptId() != b.getAttemptId());
  }

  @Test
  void resultsForUnknownAttemptsDoNotCount() throws Exception {
    TestWorker worker = holdingWorker("w1", 1);
    Job job = submit(sum(1, 10, 1));
    TaskAssignment task = worker.nextTask(WAIT);
    TaskResult good = run(task);
    worker.answer(good.toBuilder().setAttemptId(task.getAttemptId() + 1000).build());
    worker.answer(good);
    worker.answer(good);
    Job done = awaitState(job.getId(), JobState.SUCCEEDED);
    assertEquals("55", done.getResult().getSum().getSum());
    assertEquals(1, done.getTasksDone());
  }

  @Test
  void applicationErrorsFailTheJobAndWorkerErrorsAreRetried() throws Exception {
    TestWorker worker = holdingWorker("w1", 1);
    Job retried = submit(sum(1, 10, 1).toBuilder().setMaxAttempts(2).build());
    TaskAssignment first = worker.nextTask(WAIT);
    worker.answer(
        TaskResult.newBuilder().setAttemptId(first.getAttemptId()).setError("disk full").build());
    TaskAssignment second = worker.nextTask(WAIT);
    assertEquals(2, second.getAttempt());
    worker.answer(
        TaskResult.newBuilder().setAttemptId(second.getAttemptId()).setError("disk full").build());
    Job failed = awaitState(retried.getId(), JobState.FAILED);
    assertTrue(failed.getError().contains("after 2 attempts: disk full"), failed.getError());
    assertEquals(2, failed.getFailuresCount());

    Job app = submit(sum(1, 10, 1));
    TaskAssignment task = worker.nextTask(WAIT);
    worker.answer(
        TaskResult.newBuilder()
            .setAttemptId(task.getAttemptId())
            .setError("exit 3: boom")
            .setApplicationError(true)
            .build());
    Job appFailed = awaitState(app.getId(), JobState.FAILED);
    assertEquals("1 of 1 tasks failed; first: task 0: exit 3: boom", appFailed.getError());
  }

  @Test
  void aJobPastItsTimeoutFails() {
    Job job = submit(sleep(10, 1).toBuilder().setTimeout(Durations.fromMillis(200)).build());
    Job failed = awaitState(job.getId(), JobState.FAILED);
    assertEquals("timed out after 200 ms", failed.getError());
  }

  @Test
  void aBadHelloIsRefused() {
    TestWorker bad = new TestWorker(channel, "has space", 1, List.of("sum"), null);
    workers.add(bad);
    awaitTrue(() -> bad.endedWith != null, "the coordinator to refuse the hello");
    assertEquals(Status.Code.INVALID_ARGUMENT, bad.endedWith.getCode());
    assertTrue(bad.endedWith.getDescription().contains("hello.worker_id"));
  }

  @Test
  void aSilentWorkerLosesItsTasksAfterItsLease() throws Exception {
    TestWorker silent = holdingWorker("silent", 1);
    Job job = submit(sum(1, 10, 1));
    silent.nextTask(WAIT);
    awaitTrue(() -> silent.endedWith != null, "the lease to expire");
    assertEquals(Status.Code.UNAVAILABLE, silent.endedWith.getCode());
    runningWorker("fresh", 1);
    assertEquals("55", awaitState(job.getId(), JobState.SUCCEEDED).getResult().getSum().getSum());
  }

  @Test
  void healthAndReflectionAreServed() throws Exception {
    assertEquals(
        ServingStatus.SERVING,
        HealthGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance())
            .getStatus());
    CompletableFuture<List<String>> services = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests =
        ServerReflectionGrpc.newStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .serverReflectionInfo(
                new StreamObserver<>() {
                  @Override
                  public void onNext(ServerReflectionResponse response) {
                    services.complete(
                        response.getListServicesResponse().getServiceList().stream()
                            .map(ServiceResponse::getName)
                            .toList());
                  }

                  @Override
                  public void onError(Throwable t) {
                    services.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    List<String> names = services.get(5, TimeUnit.SECONDS);
    requests.onCompleted();
    holdingWorker("keeps-it-draining", 1);
    awaitTrue(
        () -> jobs().listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersCount() == 1,
        "the worker to attach");
    assertTrue(
        names.containsAll(
            List.of("weft.v1.JobService", "weft.v1.WorkerService", "grpc.health.v1.Health")),
        names.toString());
    coordinator.shutdown();
    assertEquals(
        ServingStatus.NOT_SERVING,
        HealthGrpc.newBlockingStub(channel)
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance())
            .getStatus());
  }

  @Test
  void emptyWorkerMessagesCloseTheStream() {
    TestWorker worker = holdingWorker("w1", 1);
    worker.send(WorkerMessage.getDefaultInstance());
    awaitTrue(() -> worker.endedWith != null, "the coordinator to refuse the message");
    assertInstanceOf(Status.class, worker.endedWith);
    assertEquals(Status.Code.INVALID_ARGUMENT, worker.endedWith.getCode());
  }
}
