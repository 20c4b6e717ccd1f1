package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.client.Credentials;
import dev.weft.client.JobFailedException;
import dev.weft.client.JobHandle;
import dev.weft.client.Jobs;
import dev.weft.client.PermissionDeniedException;
import dev.weft.client.UnauthenticatedException;
import dev.weft.client.UntrustedCoordinatorException;
import dev.weft.client.WeftClient;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.wire.Address;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Java client (weft-client) against real coordinator and worker processes: this user's
 * coordinator found with no token, jobs run and failed, the coordinator's refusals as typed
 * exceptions, and a watch that outlives a coordinator restart.
 */
final class JavaClientEndToEndTest {
  private static final Pattern TOKEN = Pattern.compile("weft1-[0-9a-f]{64}-[0-9a-f]{32}");

  private static Throwable failureOf(CompletableFuture<Job> result) {
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> result.get(60, TimeUnit.SECONDS));
    return e.getCause();
  }

  @Test
  void theClientRunsJobsAndReportsRefusalsAsTypedExceptions() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster()) {
      cluster.startCoordinator(0);
      cluster.startWorker("w1", 2);
      cluster.awaitWorkers(1);
      String address = cluster.coordinator().toString();

      try (WeftClient weft = WeftClient.connect(address, Credentials.localUser())) {
        List<CompletableFuture<Job>> results =
            weft.runAll(List.of(Jobs.sum(1, 1_000_000).tasks(4), Jobs.primes(1, 100_000)));
        assertEquals(
            "500000500000", results.get(0).get(60, TimeUnit.SECONDS).getResult().getSum().getSum());
        // 9592 primes below 100000 (the published count).
        assertEquals(
            9592, results.get(1).get(60, TimeUnit.SECONDS).getResult().getPrimes().getCount());

        JobHandle failing =
            weft.submit(Jobs.exec("sh", "-c", "echo broken >&2; exit 7").tasks(1).maxAttempts(1));
        JobFailedException failed =
            assertInstanceOf(JobFailedException.class, failureOf(failing.result()));
        assertEquals(7, failed.exitCode().orElseThrow());
        assertTrue(failed.stderr().orElseThrow().contains("broken"), failed.getMessage());
      }

      CliResult created =
          ProcessCluster.cli(
              "token",
              "create",
              "reader",
              "--role",
              "read",
              "--data-dir",
              cluster.dataDir().toString());
      Matcher read = TOKEN.matcher(created.out());
      assertTrue(read.find(), created::toString);
      try (WeftClient reader = WeftClient.connect(address, Credentials.token(read.group()))) {
        assertFalse(reader.jobs(0).isEmpty(), "a read token reads");
        PermissionDeniedException denied =
            assertThrows(PermissionDeniedException.class, () -> reader.submit(Jobs.sum(1, 2)));
        assertFalse(denied.getMessage().isBlank());
        assertEquals(address, denied.address());
      }

      // The coordinator's pin with a secret it never issued.
      String admin = cluster.adminToken();
      String forged = admin.substring(0, admin.lastIndexOf('-') + 1) + "0".repeat(32);
      try (WeftClient stranger = WeftClient.connect(address, Credentials.token(forged))) {
        assertThrows(UnauthenticatedException.class, () -> stranger.jobs(0));
      }

      // Another coordinator's pin: the client refuses this one before any secret leaves.
      String otherPin = "weft1-" + "ab".repeat(32) + "-" + "cd".repeat(16);
      try (WeftClient wrong = WeftClient.connect(address, Credentials.token(otherPin))) {
        UntrustedCoordinatorException e =
            assertThrows(UntrustedCoordinatorException.class, () -> wrong.jobs(0));
        assertTrue(e.getMessage().contains(address), e.getMessage());
      }
    }
  }

  @Test
  void aWatchOutlivesACoordinatorRestart() throws Exception {
    try (ProcessCluster cluster = new ProcessCluster()) {
      Address at = cluster.startCoordinator(0);
      cluster.startWorker("w1", 1);
      cluster.awaitWorkers(1);
      try (WeftClient weft = WeftClient.connect(at.toString(), Credentials.localUser())) {
        JobHandle job = weft.submit(Jobs.sleep(4_000).tasks(1));
        CompletableFuture<Job> result = job.result();
        Await.until(
            "the task to run",
            ProcessCluster.START_DEADLINE,
            () -> job.status().getTasksRunning() == 1);

        ProcessCluster.terminate(cluster.coordinatorProcess());
        cluster.startCoordinator(at.port());

        assertEquals(JobState.SUCCEEDED, result.get(60, TimeUnit.SECONDS).getState());
      }
    }
  }
}
