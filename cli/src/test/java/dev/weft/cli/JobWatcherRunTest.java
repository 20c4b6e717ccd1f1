package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.NoopParams;
import dev.weft.v1.RunJobRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.WatchJobRequest;
import dev.weft.wire.Address;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code submit --wait}'s one call (RunJob) against a stand-in coordinator: the job followed in the
 * same stream, a broken stream continued by WatchJob, a coordinator without RunJob served by
 * SubmitJob and WatchJob, and a refused submission reported as SubmitJob's would be.
 */
final class JobWatcherRunTest {
  private static final JobSpec SPEC =
      JobSpec.newBuilder().setNoop(NoopParams.getDefaultInstance()).setTasks(2).build();
  private static final Job RUNNING =
      Job.newBuilder()
          .setId("j1")
          .setKind("noop")
          .setState(JobState.RUNNING)
          .setTasksTotal(2)
          .build();
  private static final Job DONE =
      RUNNING.toBuilder().setState(JobState.SUCCEEDED).setTasksDone(2).build();

  private final List<String> calls = new CopyOnWriteArrayList<>();
  private Server server;
  private CoordinatorClient client;

  @AfterEach
  void stop() throws InterruptedException {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.shutdownNow();
      server.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void oneRunJobCallSubmitsAndFollowsTheJob() throws Exception {
    start(
        new Stand() {
          @Override
          public void runJob(RunJobRequest request, StreamObserver<JobEvent> events) {
            calls.add("RunJob " + request.getSpec().getTasks());
            events.onNext(JobEvent.newBuilder().setJobId("j1").setSnapshot(RUNNING).build());
            events.onNext(JobEvent.newBuilder().setJobId("j1").setFinished(DONE).build());
            events.onCompleted();
          }
        });
    List<Job> accepted = new CopyOnWriteArrayList<>();

    Job finished = watcher().run(SPEC, accepted::add, (done, failed, running, total) -> {});

    assertEquals(DONE, finished);
    assertEquals(List.of(RUNNING), accepted);
    assertEquals(List.of("RunJob 2"), calls);
  }

  @Test
  void aRunJobStreamThatBreaksAfterAcceptanceIsFollowedByWatchJob() throws Exception {
    start(
        new Stand() {
          @Override
          public void runJob(RunJobRequest request, StreamObserver<JobEvent> events) {
            calls.add("RunJob");
            events.onNext(JobEvent.newBuilder().setJobId("j1").setSnapshot(RUNNING).build());
            events.onError(Status.UNAVAILABLE.withDescription("going away").asRuntimeException());
          }
        });

    Job finished = watcher().run(SPEC, job -> {}, (done, failed, running, total) -> {});

    assertEquals(DONE, finished);
    assertEquals(List.of("RunJob", "WatchJob j1"), calls);
  }

  @Test
  void aCoordinatorWithoutRunJobGetsSubmitJobThenWatchJob() throws Exception {
    start(new Stand()); // RunJob answers UNIMPLEMENTED, as a coordinator that predates it does
    List<Job> accepted = new CopyOnWriteArrayList<>();

    Job finished = watcher().run(SPEC, accepted::add, (done, failed, running, total) -> {});

    assertEquals(DONE, finished);
    assertEquals(List.of(RUNNING), accepted);
    assertEquals(List.of("SubmitJob", "WatchJob j1"), calls);
  }

  @Test
  void aRefusedSubmissionEndsTheWaitWithTheCoordinatorsStatus() throws Exception {
    start(
        new Stand() {
          @Override
          public void runJob(RunJobRequest request, StreamObserver<JobEvent> events) {
            events.onError(
                Status.INVALID_ARGUMENT
                    .withDescription("spec.tasks: too many")
                    .asRuntimeException());
          }
        });

    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () -> watcher().run(SPEC, job -> {}, (done, failed, running, total) -> {}));

    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertEquals(List.of(), calls);
  }

  /** Answers SubmitJob and WatchJob for job j1; RunJob is left UNIMPLEMENTED unless overridden. */
  private class Stand extends JobServiceGrpc.JobServiceImplBase {
    @Override
    public void submitJob(SubmitJobRequest request, StreamObserver<Job> response) {
      calls.add("SubmitJob");
      response.onNext(RUNNING);
      response.onCompleted();
    }

    @Override
    public void watchJob(WatchJobRequest request, StreamObserver<JobEvent> events) {
      calls.add("WatchJob " + request.getId());
      events.onNext(JobEvent.newBuilder().setJobId("j1").setSnapshot(RUNNING).build());
      events.onNext(JobEvent.newBuilder().setJobId("j1").setFinished(DONE).build());
      events.onCompleted();
    }
  }

  private void start(Stand stand) throws IOException {
    server =
        NettyServerBuilder.forAddress(
                new InetSocketAddress("127.0.0.1", 0), InsecureServerCredentials.create())
            .addService(stand)
            .build()
            .start();
    client = new CoordinatorClient(new Address("127.0.0.1", server.getPort()));
  }

  private JobWatcher watcher() {
    return new JobWatcher(client, JobWatcher.WATCH_DEADLINE);
  }
}
