package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.SumParams;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Coordinators on one PostgreSQL journal: one leads at a time, a takeover raises the epoch, a
 * leader whose session ends loses the lead, writes of an old epoch are refused, and a standby
 * answers UNAVAILABLE naming the leader.
 */
final class LeaderElectionTest {
  @RegisterExtension static final TestPostgres.PerClass SERVER = new TestPostgres.PerClass();
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir Path dataDir;
  private String database;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void createDatabase() throws Exception {
    database = SERVER.get().createDatabase();
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private CoordinatorConfig config() {
    return new CoordinatorConfig()
        .dataDir(dataDir)
        .leaderLeaseMs(2_000)
        .postgresJournal(PostgresTarget.parse(SERVER.get().url(database)), TestPostgres.PASSWORD);
  }

  private LeaderElection election() throws Exception {
    LeaderElection election = LeaderElection.connect(config());
    open.add(election);
    return election;
  }

  @Test
  void oneLeadsTheOtherSeesItAndTakesOverWithAHigherEpochWhenItIsReleased() throws Exception {
    LeaderElection a = election();
    LeaderElection b = election();
    LeaderElection.Leadership first = a.leadNow("a.example:7070", "a");
    assertNotNull(first);
    assertNull(b.leadNow("b.example:7070", "b"), "two leaders at once");
    assertEquals("a.example:7070", b.leaderHint());

    first.release();
    LeaderElection.Leadership second = b.leadNow("b.example:7070", "b");
    assertNotNull(second, "the released lead was not taken");
    assertTrue(second.epoch() > first.epoch(), second.epoch() + " after " + first.epoch());
  }

  @Test
  void aStandbyWaitingInAwaitLeadsOnceTheLeaderSessionEnds() throws Exception {
    LeaderElection a = election();
    LeaderElection b = election();
    LeaderElection.Leadership first = a.leadNow("a.example:7070", "a");
    AtomicReference<String> lost = new AtomicReference<>();
    first.onLost(lost::set);
    AtomicReference<LeaderElection.Leadership> won = new AtomicReference<>();
    Thread standby =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    won.set(b.await("b.example:7070", "b"));
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
    // The leader's session ends as when the database drops a silent client.
    try (Connection c = SERVER.get().connect(database);
        Statement s = c.createStatement()) {
      s.execute(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              + " WHERE application_name = 'weft coordinator (leader election)'"
              + " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)");
    }
    standby.join(WAIT.toMillis());
    assertNotNull(won.get(), "the standby did not take the lead");
    assertTrue(won.get().epoch() > first.epoch());
    Await.until(() -> lost.get() != null, "the old leader to see it lost the lead", WAIT);
    assertEquals(lost.get(), first.lostBecause());
  }

  @Test
  void aCoordinatorWhoseEpochPassedWritesNothingAndStops() throws Exception {
    Coordinator coordinator = Coordinator.start(config().listen("127.0.0.1", 0).noSocket());
    open.add(coordinator);
    // Another coordinator takes over behind its back: the row is raised directly, as a takeover
    // after a lost lock would.
    try (Connection c = SERVER.get().connect(database);
        Statement s = c.createStatement()) {
      s.execute("UPDATE weft.leader SET epoch = epoch + 1");
    }
    JobSpec spec =
        JobSpec.newBuilder()
            .setSum(SumParams.newBuilder().setFrom(1).setTo(100))
            .setTasks(2)
            .build();
    // Whichever sees the new epoch first, the lease's ping or the journal's write of this job,
    // the coordinator stops, and the job is never written.
    coordinator.run(spec);
    Await.until(() -> coordinator.lostLead() != null, "the fenced coordinator to stop", WAIT);
    assertTrue(coordinator.awaitTermination(WAIT), "it kept serving");
    try (Connection c = SERVER.get().connect(database);
        Statement s = c.createStatement();
        java.sql.ResultSet rs = s.executeQuery("SELECT count(*) FROM weft.jobs")) {
      rs.next();
      assertEquals(0, rs.getLong(1), "a fenced coordinator wrote a job");
    }
  }

  @Test
  void aSecondCoordinatorStartedDirectlyIsRefusedNamingTheLeader() throws Exception {
    Coordinator leader = Coordinator.start(config().listen("127.0.0.1", 0).noSocket());
    open.add(leader);
    JournalUnavailableException e =
        assertThrows(
            JournalUnavailableException.class,
            () ->
                Coordinator.start(
                    config().dataDir(dataDir.resolve("second")).listen("127.0.0.1", 0).noSocket()));
    assertTrue(e.getMessage().contains("another coordinator leads the journal"), e.getMessage());
  }

  @Test
  void aStandbyAnswersUnavailableWithTheLeadersAddressAndIsNotServing() throws Exception {
    CoordinatorConfig config = config().listen("127.0.0.1", 0);
    config.security(new SecurityConfig().tls(SecurityConfig.Tls.OFF).insecure(true));
    config.conclude();
    ServerSecurity security = ServerSecurity.plaintext(config.security());
    StandbyServer standby = StandbyServer.start(config, security, () -> "leader.example:7070");
    open.add(standby);
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", standby.port()).usePlaintext().build();
    open.add(channel::shutdownNow);
    StatusRuntimeException e =
        assertThrows(
            StatusRuntimeException.class,
            () ->
                JobServiceGrpc.newBlockingStub(channel)
                    .listJobs(ListJobsRequest.getDefaultInstance()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals(
        "this coordinator is a standby; the leader is at leader.example:7070",
        e.getStatus().getDescription());
    assertEquals("leader.example:7070", e.getTrailers().get(StandbyServer.LEADER));
    assertEquals(
        HealthCheckResponse.ServingStatus.NOT_SERVING,
        HealthGrpc.newBlockingStub(channel)
            .check(HealthCheckRequest.getDefaultInstance())
            .getStatus());
  }
}
