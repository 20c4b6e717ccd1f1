package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.TestPostgres;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
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
 * The leader of a PostgreSQL journal is stopped (SIGSTOP), not killed: its connections stay open,
 * its advisory lock held, its port accepting. The database ends its silent session after one lease,
 * the standby takes over, a client listing both addresses submits and waits there, and the workers
 * leave the silent leader. Resumed (SIGCONT), the old leader finds its lead gone, writes nothing
 * more, and stands by naming the new one.
 */
final class HaStoppedLeaderEndToEndTest {
  @RegisterExtension static final TestPostgres.PerClass SERVER = new TestPostgres.PerClass();
  private static final long LEASE_MS = 3_000;
  private final Map<String, String> env = Map.of(JournalOption.PASSWORD_ENV, TestPostgres.PASSWORD);

  @TempDir private Path work;
  private ProcessCluster cluster;
  private Process stopped;

  @BeforeEach
  void createCluster() throws java.io.IOException {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stopCluster() throws Exception {
    try {
      if (stopped != null && stopped.isAlive()) {
        TaskProcesses.signal(stopped.pid(), "CONT"); // a stopped process would ignore SIGTERM
      }
    } finally {
      cluster.close();
    }
  }

  @Test
  void aStoppedLeaderIsReplacedWithinItsLeaseAndStandsByWhenItResumes() throws Exception {
    String url = SERVER.get().url(SERVER.get().createDatabase());
    int leaderPort = ProcessCluster.freePort();
    int standbyPort = ProcessCluster.freePort();
    String leader = "127.0.0.1:" + leaderPort;
    String standby = "127.0.0.1:" + standbyPort;
    Process leading =
        cluster.startAndAwait(
            List.of(),
            "leader",
            env,
            "leading:",
            HaEndToEndTest.coordinatorArgs(leader, work.resolve("a"), url).toArray(String[]::new));
    cluster.startAndAwait(
        List.of(),
        "standby",
        env,
        "standing by on",
        HaEndToEndTest.coordinatorArgs(standby, work.resolve("b"), url).toArray(String[]::new));
    String both = leader + "," + standby;
    String admin = Files.readString(work.resolve("a/security/admin-token")).strip();
    String join =
        dev.weft.coordinator.security.JoinTokenFiles.show(work.resolve("a")).token().orElseThrow();
    for (String id : List.of("w1", "w2")) {
      cluster.startProcess(
          id,
          Map.of("WEFT_TOKEN", join),
          "worker",
          "--join",
          both,
          "--id",
          id,
          "--slots",
          "2",
          "--transport",
          "grpc");
    }
    Await.until(
        "both workers to attach to the leader",
        Duration.ofSeconds(60),
        () -> cluster.log("w1").contains("attached") && cluster.log("w2").contains("attached"),
        cluster::logTails);

    stopped = leading;
    long stoppedAt = System.nanoTime();
    TaskProcesses.signal(leading.pid(), "STOP");
    Await.until(
        "the standby to lead",
        Duration.ofSeconds(30),
        () -> cluster.log("standby").contains("leading:"),
        cluster::logTails);
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stoppedAt);
    System.out.println("the standby led " + tookMs + " ms after the leader was stopped");
    // The database ends the stopped leader's session after one lease of silence.
    assertTrue(tookMs < LEASE_MS + 5_000, "the standby took " + tookMs + " ms to lead");

    // The stopped leader still accepts connections and answers nothing: the client must not
    // wait on it for ever.
    long submitAt = System.nanoTime();
    CliResult result =
        ProcessCluster.cli(
            "submit",
            "exec",
            "--tasks",
            "8",
            "--wait",
            "--json",
            "--coordinator",
            both,
            "--token",
            admin,
            "--",
            "sh",
            "-c",
            "echo task {}");
    System.out.println(
        "submit --wait past the stopped leader took "
            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - submitAt)
            + " ms");
    ProcessCluster.assertExit(0, result);
    Job job = result.job();
    assertEquals(JobState.SUCCEEDED, job.getState(), result::toString);
    List<ExecOutcome> outcomes = job.getResult().getExec().getTasksList();
    assertEquals(8, outcomes.size(), job::toString);
    for (int task = 0; task < 8; task++) {
      assertEquals("task " + task + "\n", outcomes.get(task).getStdoutTail());
    }

    TaskProcesses.signal(leading.pid(), "CONT");
    Await.until(
        "the resumed leader to find its lead gone and stand by",
        Duration.ofSeconds(60),
        () -> {
          String log = cluster.log("leader");
          return log.contains("lost the lead")
              && log.indexOf("standing by on", log.indexOf("lost the lead")) >= 0;
        },
        cluster::logTails);
    Await.until(
        "the old leader to name the new one",
        Duration.ofSeconds(30),
        () -> {
          StatusRuntimeException e =
              HaPartitionEndToEndTest.callStandby("127.0.0.1", leaderPort, admin);
          return e.getStatus().getCode() == Status.Code.UNAVAILABLE
              && standby.equals(e.getTrailers().get(HaEndToEndTest.LEADER));
        },
        cluster::logTails);
    // The job stays as the new leader recorded it.
    CliResult after =
        ProcessCluster.cli(
            "status", job.getId(), "--json", "--coordinator", both, "--token", admin);
    ProcessCluster.assertExit(0, after);
    assertEquals(JobState.SUCCEEDED, after.job().getState());
    assertEquals(8, after.job().getTasksDone());
  }
}
