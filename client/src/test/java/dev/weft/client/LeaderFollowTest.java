package dev.weft.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.InProcessCluster;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobState;
import dev.weft.v1.RunJobsRequest;
import dev.weft.v1.RunJobsResponse;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.wire.Leaders;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client half of the standby protocol, over the in-process transport: stand-ins that answer as
 * a standby does (UNAVAILABLE, the leader in the {@code weft-leader} trailer) or lose the answer of
 * a submission they passed on, and a real coordinator as the leader.
 */
final class LeaderFollowTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dataDir;
  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private InProcessCluster leader;

  @BeforeEach
  void startLeader() throws Exception {
    leader = InProcessCluster.start(dataDir, 2);
    resources.push(leader);
  }

  @AfterEach
  void closeAll() throws Exception {
    while (!resources.isEmpty()) {
      resources.pop().close();
    }
  }

  private <T extends AutoCloseable> T closeLater(T resource) {
    resources.push(resource);
    return resource;
  }

  private String leaderAddress() {
    return InProcess.address(leader.name()).toString();
  }

  /** Answers every call as a standby, naming {@code leaderName} (or none, when null). */
  private String standby(String leaderName, AtomicInteger calls) throws Exception {
    ServerInterceptor answer =
        new ServerInterceptor() {
          @Override
          public <Q, A> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
            calls.incrementAndGet();
            Metadata trailers = new Metadata();
            String description = Leaders.STANDBY_MESSAGE;
            if (leaderName != null) {
              String leaderAt = InProcess.address(leaderName).toString();
              trailers.put(Leaders.LEADER, leaderAt);
              description += "; the leader is at " + leaderAt;
            }
            call.close(Status.UNAVAILABLE.withDescription(description), trailers);
            return new ServerCall.Listener<>() {};
          }
        };
    String name = InProcessServerBuilder.generateName();
    Server server =
        InProcessServerBuilder.forName(name)
            .addService(
                ServerInterceptors.intercept(new JobServiceGrpc.JobServiceImplBase() {}, answer))
            .build()
            .start();
    closeLater(
        () -> {
          server.shutdownNow();
          server.awaitTermination(5, TimeUnit.SECONDS);
        });
    return name;
  }

  @Test
  void aSubmissionGoesToTheLeaderAStandbyNamesBeforeTheNextAddress() throws Exception {
    AtomicInteger standbyCalls = new AtomicInteger();
    AtomicInteger nextCalls = new AtomicInteger();
    String standby = standby(leader.name(), standbyCalls);
    String next = standby(null, nextCalls);
    WeftClient client = closeLater(InProcess.client(WAIT, standby, next));

    JobHandle job = client.submit(Jobs.sum(1, 100));

    assertEquals(1, standbyCalls.get(), "the standby was asked once");
    assertEquals(0, nextCalls.get(), "the named leader comes before the next address");
    assertEquals(leaderAddress(), client.address(), "later calls go to the leader");
    assertEquals("5050", job.result().get(30, TimeUnit.SECONDS).getResult().getSum().getSum());
    assertEquals(1, client.jobs(0).size(), "submitted once");
  }

  @Test
  void withNoLeaderWithinThePatienceTheClientSaysWhatItTried() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    String standby = standby(null, calls);
    String other = standby(null, calls);
    WeftClient client = closeLater(InProcess.client(Duration.ofMillis(500), standby, other));

    UnavailableException e =
        assertThrows(UnavailableException.class, () -> client.submit(Jobs.sum(1, 2)));

    assertEquals(UnavailableException.Reason.NO_LEADER, e.reason());
    assertEquals(
        List.of(InProcess.address(standby).toString(), InProcess.address(other).toString()),
        e.tried());
    assertTrue(e.getMessage().contains("led within 500ms"), e.getMessage());
    assertTrue(calls.get() >= 2, "it kept asking: " + calls.get());
  }

  /**
   * Passes each submission on to the leader, then fails the call as a connection lost before the
   * answer would: the job exists, the client does not know it.
   */
  private String losesAnswers(AtomicInteger calls) throws Exception {
    ManagedChannel toLeader = InProcessChannelBuilder.forName(leader.name()).build();
    closeLater(
        () -> {
          toLeader.shutdownNow();
          toLeader.awaitTermination(5, TimeUnit.SECONDS);
        });
    JobServiceGrpc.JobServiceBlockingStub leaderJobs = JobServiceGrpc.newBlockingStub(toLeader);
    String name = InProcessServerBuilder.generateName();
    Server server =
        InProcessServerBuilder.forName(name)
            .addService(
                new JobServiceGrpc.JobServiceImplBase() {
                  @Override
                  public void submitJob(SubmitJobRequest request, StreamObserver<Job> responses) {
                    calls.incrementAndGet();
                    leaderJobs.withDeadlineAfter(10, TimeUnit.SECONDS).submitJob(request);
                    responses.onError(
                        Status.UNAVAILABLE
                            .withDescription("Network closed for unknown reason")
                            .asRuntimeException());
                  }

                  @Override
                  public StreamObserver<RunJobsRequest> runJobs(
                      StreamObserver<RunJobsResponse> responses) {
                    calls.incrementAndGet();
                    responses.onError(
                        Status.UNAVAILABLE
                            .withDescription("Network closed for unknown reason")
                            .asRuntimeException());
                    return new StreamObserver<>() {
                      @Override
                      public void onNext(RunJobsRequest value) {}

                      @Override
                      public void onError(Throwable t) {}

                      @Override
                      public void onCompleted() {}
                    };
                  }
                })
            .build()
            .start();
    closeLater(
        () -> {
          server.shutdownNow();
          server.awaitTermination(5, TimeUnit.SECONDS);
        });
    return name;
  }

  @Test
  void aSubmissionWhoseAnswerWasLostIsSentAgainToTheLeaderWithoutASecondJob() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    String lossy = losesAnswers(calls);
    WeftClient client = closeLater(InProcess.client(WAIT, lossy, leader.name()));

    JobHandle job = client.submit(Jobs.sum(1, 10));

    assertEquals(1, calls.get());
    assertEquals(1, client.jobs(0).size(), "one job, though it was sent twice");
    assertEquals(job.id(), client.jobs(0).getFirst().getId());
  }

  @Test
  void withOneCoordinatorALostAnswerIsReportedAsMaybeSubmitted() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    String lossy = losesAnswers(calls);
    WeftClient client = closeLater(InProcess.client(WAIT, lossy));

    UnavailableException e =
        assertThrows(UnavailableException.class, () -> client.submit(Jobs.sum(1, 10)));

    assertEquals(UnavailableException.Reason.MAYBE_ACTED_ON, e.reason());
    assertTrue(e.getMessage().contains("it may have been submitted"), e.getMessage());
    assertEquals(1, calls.get(), "not sent again");
  }

  @Test
  void aStreamThatBrokeBeforeAnAnswerDoesNotSendItsJobsAgain() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    String lossy = losesAnswers(calls);
    WeftClient client = closeLater(InProcess.client(WAIT, lossy));

    CompletableFuture<Job> result;
    try (JobStream stream = client.openStream(4)) {
      result = stream.submit(Jobs.sum(1, 10));
    }

    java.util.concurrent.ExecutionException e =
        assertThrows(
            java.util.concurrent.ExecutionException.class, () -> result.get(30, TimeUnit.SECONDS));
    UnavailableException cause = (UnavailableException) e.getCause();
    assertEquals(UnavailableException.Reason.MAYBE_ACTED_ON, cause.reason());
    assertEquals(1, calls.get(), "not sent again");
  }

  @Test
  void aStreamGoesToTheLeaderAStandbyNames() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    String standby = standby(leader.name(), calls);
    WeftClient client = closeLater(InProcess.client(WAIT, standby));

    List<CompletableFuture<Job>> results = client.runAll(List.of(Jobs.sum(1, 4), Jobs.sum(1, 5)));

    assertEquals("10", results.get(0).get(30, TimeUnit.SECONDS).getResult().getSum().getSum());
    assertEquals("15", results.get(1).get(30, TimeUnit.SECONDS).getResult().getSum().getSum());
    assertEquals(1, calls.get());
    assertEquals(2, client.jobs(0, JobState.SUCCEEDED).size());
  }
}
