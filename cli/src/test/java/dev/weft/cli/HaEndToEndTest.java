package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.TestPostgres;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobState;
import dev.weft.v1.ListJobsRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two coordinators on one PostgreSQL journal, as real processes: the leader is SIGKILLed in the
 * middle of a 10,000-task primes job; the standby serves within 5 s of the kill, the workers and a
 * {@code submit --wait} started before the kill follow it, and the result is exact.
 */
final class HaEndToEndTest {
  @RegisterExtension static final TestPostgres.PerClass SERVER = new TestPostgres.PerClass();
  static final Duration TAKEOVER = Duration.ofSeconds(5);
  static final Metadata.Key<String> LEADER = dev.weft.wire.Leaders.LEADER;
  // How many primes lie in [1, 10^9].
  static final String PRIMES_TO_1E9 = "50847534";

  @TempDir private Path work;
  private ProcessCluster cluster;
  private String url;
  private final Map<String, String> env = Map.of(JournalOption.PASSWORD_ENV, TestPostgres.PASSWORD);

  @BeforeEach
  void createCluster() throws Exception {
    url = SERVER.get().url(SERVER.get().createDatabase());
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stopCluster() throws Exception {
    cluster.close();
  }

  static List<String> coordinatorArgs(String listen, Path dataDir, String journal) {
    return List.of(
        "coordinator",
        "--listen",
        listen,
        "--heartbeat",
        "500ms",
        "--lease",
        "4s",
        "--http-listen",
        "off",
        "--data-dir",
        dataDir.toString(),
        "--journal",
        journal,
        "--leader-lease",
        "3s");
  }

  @Test
  void theStandbyServesWithinFiveSecondsOfAKillAndTheWaitingSubmitPrintsTheExactResult()
      throws Exception {
    int leaderPort = ProcessCluster.freePort();
    cluster.startCoordinator(
        env,
        leaderPort,
        "--journal",
        url,
        "--leader-lease",
        "3s",
        "--data-dir",
        work.resolve("a").toString());
    int standbyPort = ProcessCluster.freePort();
    cluster.startAndAwait(
        List.of(),
        "standby",
        env,
        "standing by on",
        coordinatorArgs("127.0.0.1:" + standbyPort, work.resolve("b"), url).toArray(String[]::new));
    String leader = "127.0.0.1:" + leaderPort;
    String both = leader + ",127.0.0.1:" + standbyPort;

    // The standby refuses, naming the leader, with the tokens the pair shares.
    StatusRuntimeException refused = callStandby("127.0.0.1", standbyPort);
    assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode(), refused::toString);
    assertEquals(leader, refused.getTrailers().get(LEADER));

    cluster.startWorkerJoining(both, "w1", 2);
    cluster.startWorkerJoining(both, "w2", 2);
    cluster.awaitWorkers(2);
    ProcessCluster.RunningCli waiting =
        cluster.startCli(
            "submit",
            "primes",
            "--from",
            "1",
            "--to",
            "1000000000",
            "--tasks",
            "10000",
            "--wait",
            "--json",
            "--coordinator",
            both);
    Await.until(
        "a fifth of the tasks to be done",
        Duration.ofSeconds(60),
        () -> {
          CliResult jobs = cluster.client("jobs", "--json");
          return jobs.exitCode() == 0
              && jobs.out().contains("\"tasks_done\"")
              && tasksDone(jobs.out()) >= 2_000;
        },
        cluster::logTails);

    Process killed = cluster.coordinatorProcess();
    long killedAt = System.nanoTime();
    killed.destroyForcibly();
    Await.until(
        "the standby to lead",
        Duration.ofSeconds(30),
        () -> cluster.log("standby").contains("leading:"),
        cluster::logTails);
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
    System.out.println("the standby served " + tookMs + " ms after the leader was killed");
    assertTrue(tookMs < TAKEOVER.toMillis(), "the standby took " + tookMs + " ms to serve");

    CliResult result = waiting.await();
    assertExit(0, result);
    Job job = result.job();
    assertEquals(JobState.SUCCEEDED, job.getState(), result::toString);
    assertEquals(PRIMES_TO_1E9, job.getResult().getSummary(), result::toString);
    assertEquals(10_000, job.getTasksDone(), "a task counted twice or lost: " + job);
  }

  /** The sum of tasks_done over the listed jobs (there is one). */
  private static long tasksDone(String json) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("\"tasks_done\":(\\d+)").matcher(json);
    long done = 0;
    while (m.find()) {
      done += Long.parseLong(m.group(1));
    }
    return done;
  }

  /** ListJobs at a standby, as this cluster's admin: the exception it must end with. */
  StatusRuntimeException callStandby(String host, int port) {
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(
                host,
                port,
                new ClientSecurity().token(cluster.adminToken()).conclude().credentials())
            .build();
    try {
      JobServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .listJobs(ListJobsRequest.getDefaultInstance());
      throw new AssertionError("the standby at " + host + ":" + port + " answered");
    } catch (StatusRuntimeException e) {
      return e;
    } finally {
      channel.shutdownNow();
    }
  }
}
