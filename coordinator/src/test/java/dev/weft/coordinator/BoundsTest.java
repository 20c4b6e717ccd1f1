package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.JobView;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListJobsResponse;
import dev.weft.v1.RunJobRequest;
import dev.weft.v1.RunJobsRequest;
import dev.weft.v1.RunJobsResponse;
import dev.weft.v1.SleepParams;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import dev.weft.v1.WatchJobRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What bounds a client: total unfinished jobs and queued tasks, the bytes of output a job's result
 * keeps whatever its workers send, ListJobs summaries, and calls and watches per connection.
 */
class BoundsTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir private Path dataDir;
  private final List<AutoCloseable> open = new ArrayList<>();
  private Coordinator coordinator;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private ManagedChannel inProcess(CoordinatorConfig config) throws Exception {
    String name = InProcessServerBuilder.generateName();
    coordinator =
        Coordinator.start(
            config.heartbeatIntervalMs(100).leaseMs(1_000).dataDir(dataDir),
            InProcessServerBuilder.forName(name),
            name);
    open.add(coordinator);
    return channel(InProcessChannelBuilder.forName(name).build());
  }

  private ManagedChannel channel(ManagedChannel channel) {
    open.add(
        () -> {
          channel.shutdownNow();
          channel.awaitTermination(5, TimeUnit.SECONDS);
        });
    return channel;
  }

  private static JobServiceGrpc.JobServiceBlockingStub jobs(ManagedChannel channel) {
    return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  private static JobSpec sleep(int tasks) {
    return JobSpec.newBuilder()
        .setSleep(SleepParams.newBuilder().setMs(60_000))
        .setTasks(tasks)
        .build();
  }

  private static Job submit(ManagedChannel channel, JobSpec spec) {
    return jobs(channel).submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
  }

  private static void assertExhausted(StatusRuntimeException e, String... named) {
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
    for (String part : named) {
      assertTrue(
          e.getStatus().getDescription().contains(part),
          "'" + part + "' not in: " + e.getStatus().getDescription());
    }
  }

  @Test
  void unfinishedJobsPastTheLimitAreRefusedOnEverySubmitPath() throws Exception {
    ManagedChannel channel = inProcess(new CoordinatorConfig().maxUnfinishedJobs(2));
    Job first = submit(channel, sleep(1));
    submit(channel, sleep(1));
    String[] named = {"unfinished jobs", "2 unfinished jobs", "--max-unfinished-jobs"};

    assertExhausted(
        assertThrows(StatusRuntimeException.class, () -> submit(channel, sleep(1))), named);
    assertExhausted(
        assertThrows(
            StatusRuntimeException.class,
            () ->
                jobs(channel).runJob(RunJobRequest.newBuilder().setSpec(sleep(1)).build()).next()),
        named);
    CompletableFuture<RunJobsResponse> rejected = new CompletableFuture<>();
    StreamObserver<RunJobsRequest> stream =
        JobServiceGrpc.newStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .runJobs(
                new StreamObserver<>() {
                  @Override
                  public void onNext(RunJobsResponse response) {
                    rejected.complete(response);
                  }

                  @Override
                  public void onError(Throwable t) {
                    rejected.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    stream.onNext(RunJobsRequest.newBuilder().setRef(7).setSpec(sleep(1)).build());
    RunJobsResponse answer = rejected.get(10, TimeUnit.SECONDS);
    stream.onCompleted();
    assertEquals(7, answer.getRef());
    assertEquals(Status.Code.RESOURCE_EXHAUSTED.value(), answer.getRejected().getCode());
    assertTrue(
        answer.getRejected().getMessage().contains("--max-unfinished-jobs"),
        answer.getRejected().getMessage());

    // A job that ends frees its place.
    jobs(channel).cancelJob(CancelJobRequest.newBuilder().setId(first.getId()).build());
    assertEquals(JobState.QUEUED, submit(channel, sleep(1)).getState());
  }

  @Test
  void queuedTasksPastTheLimitAreRefusedNamingTheFlag() throws Exception {
    ManagedChannel channel =
        inProcess(new CoordinatorConfig().maxTasksPerJob(10).maxQueuedTasks(15));
    Job ten = submit(channel, sleep(10));
    StatusRuntimeException refused =
        assertThrows(StatusRuntimeException.class, () -> submit(channel, sleep(6)));
    assertExhausted(
        refused, "queued tasks", "10 tasks of unfinished jobs", "15", "--max-queued-tasks");
    submit(channel, sleep(5));
    jobs(channel).cancelJob(CancelJobRequest.newBuilder().setId(ten.getId()).build());
    submit(channel, sleep(10));
  }

  @Test
  void oneOwnerCannotTakeAllTheRoom() throws Exception {
    ManagedChannel channel =
        inProcess(
            new CoordinatorConfig()
                .maxTasksPerJob(10)
                .maxUnfinishedJobsPerOwner(2)
                .maxQueuedTasksPerOwner(15));
    // In plain text every caller is the one owner "anonymous".
    Job first = submit(channel, sleep(10));
    StatusRuntimeException tasks =
        assertThrows(StatusRuntimeException.class, () -> submit(channel, sleep(6)));
    assertExhausted(tasks, "owner 'anonymous'", "15", "--max-queued-tasks-per-owner");
    submit(channel, sleep(1));
    StatusRuntimeException jobs =
        assertThrows(StatusRuntimeException.class, () -> submit(channel, sleep(1)));
    assertExhausted(jobs, "owner 'anonymous'", "2", "--max-unfinished-jobs-per-owner");
    jobs(channel).cancelJob(CancelJobRequest.newBuilder().setId(first.getId()).build());
    // The cancelled job's end frees its owner's room.
    Await.until(
        () -> {
          try {
            submit(channel, sleep(1));
            return true;
          } catch (StatusRuntimeException e) {
            return false;
          }
        },
        "room for the owner after a cancel",
        WAIT);
  }

  @Test
  void limitsTheConfigCannotMeetAreRefusedAtStart() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new CoordinatorConfig().maxTasksPerJob(100).maxQueuedTasks(99).conclude());
    assertTrue(e.getMessage().contains("max queued tasks (99)"), e.getMessage());
  }

  /**
   * A dishonest worker sends exec tails far past what a worker keeps: the coordinator cuts each to
   * 4096 bytes and all of a job's to --max-result-bytes, and says so in the result.
   */
  @Test
  void aDishonestWorkersOversizedTailsAreCut() throws Exception {
    ManagedChannel channel = inProcess(new CoordinatorConfig().maxResultBytes(10_000));
    TestWorker worker = new TestWorker(channel, "liar", 1, List.of("exec"), null);
    open.add(worker);
    Job job =
        submit(
            channel,
            JobSpec.newBuilder()
                .setExec(
                    ExecParams.newBuilder()
                        .addCommand("echo")
                        .addAllInputs(List.of("a", "b", "c"))
                        .putEnv("SECRET", "value"))
                .build());
    String tenMib = "x".repeat(10 << 20) + "THE END";
    for (int i = 0; i < 3; i++) {
      TaskAssignment task = worker.nextTask(WAIT);
      ExecTaskOutput.Builder output = ExecTaskOutput.newBuilder().setExitCode(0);
      if (task.getTask() < 2) {
        output.setStdoutTail(tenMib).setStderrTail(tenMib);
      } else {
        output.setStdoutTail("ok\n");
      }
      worker.answer(
          TaskResult.newBuilder()
              .setAttemptId(task.getAttemptId())
              .setOk(true)
              .setOutput(output.build().toByteString())
              .build());
    }
    Await.until(
        () ->
            jobs(channel).getJob(GetJobRequest.newBuilder().setId(job.getId()).build()).getState()
                == JobState.SUCCEEDED,
        "the job to succeed",
        WAIT);
    Job done = jobs(channel).getJob(GetJobRequest.newBuilder().setId(job.getId()).build());
    List<ExecOutcome> tasks = done.getResult().getExec().getTasksList();
    assertEquals(3, tasks.size());
    // The first two are cut to 4096 bytes each (8 KiB of 10,000); the second then does not fit.
    ExecOutcome first = tasks.get(0);
    assertTrue(first.getStdoutTail().startsWith(ResultBudget.CUT_MARK), first.getStdoutTail());
    assertTrue(first.getStdoutTail().endsWith("THE END"));
    assertEquals(
        ResultBudget.TAIL_BYTES, first.getStdoutTail().getBytes(StandardCharsets.UTF_8).length);
    assertEquals(
        ResultBudget.TAIL_BYTES, first.getStderrTail().getBytes(StandardCharsets.UTF_8).length);
    assertEquals("", tasks.get(1).getStdoutTail());
    assertEquals("", tasks.get(1).getStderrTail());
    assertEquals("ok\n", tasks.get(2).getStdoutTail());
    assertTrue(done.getSerializedSize() < 10_000 + 1_000, "job of " + done.getSerializedSize());
    String summary = done.getResult().getSummary();
    assertTrue(
        summary.startsWith("3 tasks succeeded (output of 1 task dropped")
            && summary.contains("10000 bytes, --max-result-bytes"),
        summary);

    // ListJobs: a summary unless asked for the whole job.
    ListJobsResponse summaries = jobs(channel).listJobs(ListJobsRequest.getDefaultInstance());
    assertEquals(JobView.JOB_VIEW_SUMMARY, summaries.getView());
    Job listed = summaries.getJobs(0);
    assertEquals(job.getId(), listed.getId());
    assertEquals(JobState.SUCCEEDED, listed.getState());
    assertEquals(3, listed.getTasksDone());
    assertEquals(summary, listed.getResult().getSummary());
    assertFalse(listed.getResult().hasExec(), "no per-task outcomes in a summary");
    assertEquals(0, listed.getSpec().getExec().getInputsCount());
    assertEquals("", listed.getSpec().getExec().getEnvOrThrow("SECRET"));
    assertEquals(List.of("echo"), listed.getSpec().getExec().getCommandList());
    assertTrue(listed.hasFinished() && listed.hasCreated());

    ListJobsResponse full =
        jobs(channel).listJobs(ListJobsRequest.newBuilder().setView(JobView.JOB_VIEW_FULL).build());
    assertEquals(JobView.JOB_VIEW_FULL, full.getView());
    assertEquals(done, full.getJobs(0));
  }

  @Test
  void listJobsLimitsAreNamedWhenPassed() throws Exception {
    ManagedChannel channel = inProcess(new CoordinatorConfig());
    StatusRuntimeException full =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                jobs(channel)
                    .listJobs(
                        ListJobsRequest.newBuilder()
                            .setView(JobView.JOB_VIEW_FULL)
                            .setLimit(1_001)
                            .build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, full.getStatus().getCode());
    assertTrue(
        full.getStatus().getDescription().startsWith("limit: must be 0..1000 for full jobs"),
        full.getStatus().getDescription());
    StatusRuntimeException summaries =
        assertThrows(
            StatusRuntimeException.class,
            () -> jobs(channel).listJobs(ListJobsRequest.newBuilder().setLimit(10_001).build()));
    assertTrue(
        summaries.getStatus().getDescription().startsWith("limit: must be 0..10000 for summaries"),
        summaries.getStatus().getDescription());
    assertEquals(
        0,
        jobs(channel)
            .listJobs(ListJobsRequest.newBuilder().setLimit(10_000).build())
            .getJobsCount());
  }

  // ---- per connection, over TCP: each channel is one connection ----

  private ManagedChannel tcp(CoordinatorConfig config) throws Exception {
    coordinator =
        Coordinator.start(
            config.heartbeatIntervalMs(100).leaseMs(1_000).dataDir(dataDir),
            NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
            "127.0.0.1:0");
    open.add(coordinator);
    return connect();
  }

  private ManagedChannel connect() {
    return channel(
        NettyChannelBuilder.forAddress("127.0.0.1", coordinator.port()).usePlaintext().build());
  }

  /** A WatchJob stream; its future completes with its first event, or its error. */
  private record Watch(CompletableFuture<JobEvent> first, CompletableFuture<Status> end) {
    static Watch open(ManagedChannel channel, String id, List<ClientCallStreamObserver<?>> calls) {
      Watch watch = new Watch(new CompletableFuture<>(), new CompletableFuture<>());
      JobServiceGrpc.newStub(channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .watchJob(
              WatchJobRequest.newBuilder().setId(id).build(),
              new ClientResponseObserver<WatchJobRequest, JobEvent>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<WatchJobRequest> call) {
                  calls.add(call);
                }

                @Override
                public void onNext(JobEvent event) {
                  watch.first.complete(event);
                }

                @Override
                public void onError(Throwable t) {
                  watch.first.completeExceptionally(t);
                  watch.end.complete(Status.fromThrowable(t));
                }

                @Override
                public void onCompleted() {
                  watch.end.complete(Status.OK);
                }
              });
      return watch;
    }

    Status refusal() throws Exception {
      return end.get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void watchesAndCallsPerConnectionAreBounded() throws Exception {
    ManagedChannel a =
        tcp(new CoordinatorConfig().maxCallsPerConnection(3).maxWatchesPerConnection(2));
    String id = submit(a, sleep(1)).getId();
    List<ClientCallStreamObserver<?>> calls = new ArrayList<>();
    Watch.open(a, id, calls).first().get(10, TimeUnit.SECONDS);
    Watch.open(a, id, calls).first().get(10, TimeUnit.SECONDS);
    Status third = Watch.open(a, id, calls).refusal();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.getCode(), third.toString());
    assertTrue(
        third.getDescription().contains("2 WatchJob and RunJob streams open")
            && third.getDescription().contains("max watches per connection 2")
            && third.getDescription().contains("--max-watches-per-connection"),
        third.getDescription());

    // Another connection has counts of its own.
    ManagedChannel b = connect();
    Watch.open(b, id, calls).first().get(10, TimeUnit.SECONDS);

    // A RunJobs stream is a call, not a watch: with it, connection a has 3 calls in flight.
    CompletableFuture<Void> runJobsOpen = new CompletableFuture<>();
    StreamObserver<RunJobsRequest> runJobs =
        JobServiceGrpc.newStub(a)
            .runJobs(
                new StreamObserver<>() {
                  @Override
                  public void onNext(RunJobsResponse value) {
                    runJobsOpen.complete(null);
                  }

                  @Override
                  public void onError(Throwable t) {
                    runJobsOpen.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    runJobs.onNext(RunJobsRequest.newBuilder().setRef(1).setSpec(sleep(1)).build());
    runJobsOpen.get(10, TimeUnit.SECONDS); // its job was accepted: the call is in flight
    StatusRuntimeException unary =
        assertThrows(StatusRuntimeException.class, () -> submit(a, sleep(1)));
    assertExhausted(
        unary,
        "3 JobService calls in flight",
        "max calls per connection 3",
        "--max-calls-per-connection");
    runJobs.onCompleted();
    calls.forEach(call -> call.cancel("test done", null));
  }

  /**
   * A client that opens and ends many watches — cancelled, failed, completed — holds none of them
   * afterwards: with one watch allowed, each next one is accepted.
   */
  @Test
  void watchesThatEndReleaseTheirCount() throws Exception {
    ManagedChannel channel =
        tcp(new CoordinatorConfig().maxCallsPerConnection(2).maxWatchesPerConnection(1));
    String queued = submit(channel, sleep(1)).getId();
    List<ClientCallStreamObserver<?>> calls = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      Watch watch = openWhenAllowed(channel, queued, calls);
      calls.getLast().cancel("the client moves on", null);
      assertEquals(Status.Code.CANCELLED, watch.refusal().getCode());
    }
    long deadline = System.nanoTime() + WAIT.toNanos();
    for (int failed = 0; failed < 20; ) {
      Status notFound = Watch.open(channel, "jnosuchjob", calls).refusal();
      if (notFound.getCode() == Status.Code.NOT_FOUND) {
        failed++;
      } else {
        // Only a count not yet released by the previous call may refuse it; it must clear.
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, notFound.getCode(), notFound.toString());
        assertTrue(System.nanoTime() < deadline, "a watch was still refused: " + notFound);
      }
    }
    jobs(channel).cancelJob(CancelJobRequest.newBuilder().setId(queued).build());
    Watch ended = openWhenAllowed(channel, queued, calls);
    assertEquals(Status.OK, ended.refusal());
    Watch last = openWhenAllowed(channel, queued, calls);
    assertEquals(Status.OK, last.refusal());
  }

  /**
   * Opens a watch, trying again while the previous one's end has not reached the server's count yet
   * (the client sees a call end before the server's listener does); a leaked count would keep
   * refusing it past the deadline.
   */
  private Watch openWhenAllowed(
      ManagedChannel channel, String id, List<ClientCallStreamObserver<?>> calls) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      Watch watch = Watch.open(channel, id, calls);
      try {
        watch.first().get(10, TimeUnit.SECONDS);
        return watch;
      } catch (java.util.concurrent.ExecutionException e) {
        Status status = Status.fromThrowable(e.getCause());
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), status.toString());
        assertTrue(System.nanoTime() < deadline, "a watch was still refused: " + status);
        Thread.onSpinWait();
      }
    }
  }
}
