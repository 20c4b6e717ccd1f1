package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.client.Route;
import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.SumParams;
import dev.weft.v1.WorkerServiceGrpc;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import dev.weft.wire.Leaders;
import dev.weft.worker.Worker;
import dev.weft.worker.WorkerConfig;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client half of the standby protocol, against stand-ins for standbys: an in-test gRPC server
 * that answers every JobService and WorkerService call as a standby does (UNAVAILABLE, "this
 * coordinator is a standby; the leader is at HOST:PORT", the leader in the {@code weft-leader}
 * trailer), and a real (in-process, plain-text) coordinator as the leader.
 */
final class LeaderFollowProtocolTest {
  private static final JobSpec SUM =
      JobSpec.newBuilder().setSum(SumParams.newBuilder().setFrom(1).setTo(100)).build();

  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private Coordinator leader;

  @BeforeEach
  void startLeader() throws IOException {
    leader =
        closeLater(
            Coordinator.start(
                new CoordinatorConfig()
                    .listen("127.0.0.1", 0)
                    .security(new SecurityConfig().insecure(true))));
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

  private Address leaderAddress() {
    return new Address("127.0.0.1", leader.port());
  }

  /**
   * Answers every call as a standby would, naming {@code leader} (or none, when null), or, with
   * {@code standby} false, as a coordinator whose connection broke mid-call (UNAVAILABLE, no
   * trailer): then the call may have been acted on.
   */
  private final class StandIn implements AutoCloseable {
    final AtomicInteger calls = new AtomicInteger();
    final Server server;

    StandIn(Address leader, boolean standby) throws IOException {
      ServerInterceptor answer =
          new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(
                ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
              calls.incrementAndGet();
              Metadata trailers = new Metadata();
              Status status;
              if (!standby) {
                status = Status.UNAVAILABLE.withDescription("Network closed for unknown reason");
              } else if (leader == null) {
                status = Status.UNAVAILABLE.withDescription(Leaders.STANDBY_MESSAGE);
              } else {
                trailers.put(Leaders.LEADER, leader.toString());
                status =
                    Status.UNAVAILABLE.withDescription(
                        Leaders.STANDBY_MESSAGE + "; the leader is at " + leader);
              }
              call.close(status, trailers);
              return new ServerCall.Listener<>() {};
            }
          };
      server =
          NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
              .addService(
                  ServerInterceptors.intercept(new JobServiceGrpc.JobServiceImplBase() {}, answer))
              .addService(
                  ServerInterceptors.intercept(
                      new WorkerServiceGrpc.WorkerServiceImplBase() {}, answer))
              .build()
              .start();
      closeLater(this);
    }

    Address address() {
      return new Address("127.0.0.1", server.getPort());
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow();
      assertTrue(server.awaitTermination(5, TimeUnit.SECONDS), "stand-in server did not stop");
    }
  }

  private CoordinatorClient client(Duration patience, Address... addresses) {
    return closeLater(
        new CoordinatorClient(
            new Addresses(List.of(addresses)),
            address -> new Route(address, new ClientSecurity().conclude()),
            patience));
  }

  @Test
  void aClientGoesToTheLeaderAStandbyNamesBeforeTheNextAddress() throws IOException {
    StandIn standby = new StandIn(leaderAddress(), true);
    StandIn next = new StandIn(null, true);
    CoordinatorClient client =
        client(CoordinatorClient.FOLLOW_PATIENCE, standby.address(), next.address());

    Job job = client.submit(SUM);

    assertEquals(1, standby.calls.get(), "the standby was asked once");
    assertEquals(0, next.calls.get(), "the named leader comes before the next address");
    assertEquals(leaderAddress(), client.address(), "later calls go to the leader");
    assertEquals(job.getId(), client.get(job.getId()).getId());
    assertEquals(1, client.list(List.of(), 10, false).getJobsCount(), "submitted once");
  }

  @Test
  void aRefusedAddressAndAStandbyThatKnowsNoLeaderAreSkipped() throws IOException {
    Address refused = new Address("127.0.0.1", ProcessCluster.freePort());
    StandIn standby = new StandIn(null, true);
    CoordinatorClient client =
        client(CoordinatorClient.FOLLOW_PATIENCE, refused, standby.address(), leaderAddress());

    Job job = client.submit(SUM);

    assertEquals(1, standby.calls.get());
    assertEquals(leaderAddress(), client.address());
    assertEquals(1, client.list(List.of(), 10, false).getJobsCount(), "submitted once");
    assertTrue(!job.getId().isEmpty());
  }

  /**
   * Passes each submission on to the leader, then breaks the call as a connection lost before the
   * answer would: the job exists, the client does not know it.
   */
  private final class LosesAnswers implements AutoCloseable {
    final AtomicInteger calls = new AtomicInteger();
    final Server server;

    LosesAnswers() throws IOException {
      io.grpc.ManagedChannel toLeader =
          closeLater(
                  new Closing<>(
                      io.grpc.ManagedChannelBuilder.forAddress("127.0.0.1", leader.port())
                          .usePlaintext()
                          .build()))
              .channel;
      JobServiceGrpc.JobServiceBlockingStub leaderJobs = JobServiceGrpc.newBlockingStub(toLeader);
      server =
          NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
              .addService(
                  new JobServiceGrpc.JobServiceImplBase() {
                    @Override
                    public void submitJob(
                        dev.weft.v1.SubmitJobRequest request,
                        io.grpc.stub.StreamObserver<Job> responses) {
                      calls.incrementAndGet();
                      leaderJobs.withDeadlineAfter(10, TimeUnit.SECONDS).submitJob(request);
                      responses.onError(
                          Status.UNAVAILABLE
                              .withDescription("Network closed for unknown reason")
                              .asRuntimeException());
                    }
                  })
              .build()
              .start();
      closeLater(this);
    }

    Address address() {
      return new Address("127.0.0.1", server.getPort());
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow();
      assertTrue(server.awaitTermination(5, TimeUnit.SECONDS), "stand-in server did not stop");
    }
  }

  private record Closing<T extends io.grpc.ManagedChannel>(T channel) implements AutoCloseable {
    @Override
    public void close() throws InterruptedException {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aSubmitWhoseAnswerWasLostIsSentAgainToTheLeaderAndMakesOneJob() throws IOException {
    LosesAnswers lossy = new LosesAnswers();
    CoordinatorClient client =
        client(CoordinatorClient.FOLLOW_PATIENCE, lossy.address(), leaderAddress());

    Job job = client.submit(SUM);

    assertEquals(1, lossy.calls.get());
    assertEquals(leaderAddress(), client.address());
    assertEquals(1, client.list(List.of(), 10, false).getJobsCount(), "one job, not two");
    assertEquals(job.getId(), client.list(List.of(), 10, false).getJobs(0).getId());
    assertTrue(!job.getSpec().getRequestId().isEmpty(), "the submission carried a request id");
  }

  @Test
  void withOneCoordinatorASubmitWhoseAnswerWasLostIsReported() throws IOException {
    StandIn broken = new StandIn(null, false);
    CoordinatorClient client = client(CoordinatorClient.FOLLOW_PATIENCE, broken.address());

    CliException e = assertThrows(CliException.class, () -> client.submit(SUM));

    assertEquals(ExitCodes.UNREACHABLE, e.exitCode(), e::getMessage);
    assertTrue(e.getMessage().contains("may have been submitted"), e::getMessage);
    assertTrue(e.getMessage().contains("weft jobs"), e::getMessage);
    assertEquals(1, broken.calls.get(), "sent once");
  }

  @Test
  void withNoLeaderAClientGivesUpAfterItsPatienceNamingTheAddresses() throws IOException {
    Address a = new Address("127.0.0.1", ProcessCluster.freePort());
    StandIn standby = new StandIn(null, true);
    CoordinatorClient client = client(Duration.ofMillis(700), a, standby.address());

    long start = System.nanoTime();
    CliException e = assertThrows(CliException.class, () -> client.list(List.of(), 10, false));

    assertEquals(ExitCodes.UNREACHABLE, e.exitCode(), e::getMessage);
    assertTrue(
        e.getMessage().startsWith("no coordinator at " + a + ", " + standby.address() + " led"),
        e::getMessage);
    assertTrue(standby.calls.get() >= 2, "it kept asking: " + standby.calls.get());
    assertTrue(
        System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "gave up within its patience");
  }

  @Test
  void aWorkerAttachesToTheLeaderAStandbyNames() throws Exception {
    StandIn standby = new StandIn(leaderAddress(), true);
    StandIn next = new StandIn(null, true);
    Worker worker =
        Worker.start(
            new WorkerConfig()
                .join(standby.address() + "," + next.address())
                .id("follower")
                .transport("grpc")
                .slots(1)
                .conclude());
    closeLater(worker::close);

    assertTrue(leader.awaitWorkers(1, Duration.ofSeconds(20)), "the worker reached the leader");
    assertEquals(1, standby.calls.get(), "one attach at the standby");
    assertEquals(0, next.calls.get(), "the named leader comes before the next address");
  }

  @Test
  void aWorkerSkipsARefusedAddressAndAStandbyThatKnowsNoLeader() throws Exception {
    Address refused = new Address("127.0.0.1", ProcessCluster.freePort());
    StandIn standby = new StandIn(null, true);
    Worker worker =
        Worker.start(
            new WorkerConfig()
                .join(refused + "," + standby.address() + "," + leaderAddress())
                .id("skipper")
                .transport("grpc")
                .slots(1)
                .conclude());
    closeLater(worker::close);

    assertTrue(leader.awaitWorkers(1, Duration.ofSeconds(20)), "the worker reached the leader");
    assertEquals(1, standby.calls.get(), "one attach at the standby on the way");
  }

  @Test
  void aWaitStartedAtAStandbyFollowsTheJobAtTheLeader() throws Exception {
    StandIn standby = new StandIn(leaderAddress(), true);
    Job job;
    try (CoordinatorClient direct = new CoordinatorClient(leaderAddress())) {
      job = direct.submit(SUM);
    }
    Worker worker =
        Worker.start(
            new WorkerConfig()
                .join(leaderAddress().toString())
                .id("runner")
                .transport("grpc")
                .slots(1)
                .conclude());
    closeLater(worker::close);
    CoordinatorClient client = client(CoordinatorClient.FOLLOW_PATIENCE, standby.address());

    Job finished =
        new JobWatcher(client, JobWatcher.WATCH_DEADLINE)
            .await(job.getId(), (done, failed, running, total) -> {});

    assertEquals(dev.weft.v1.JobState.SUCCEEDED, finished.getState(), finished::toString);
    assertEquals("5050", finished.getResult().getSum().getSum());
    assertEquals(1, standby.calls.get(), "the watch went to the leader the standby named");
  }
}
