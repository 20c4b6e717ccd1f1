package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Jobs that name their workers, and {@code weft bench --join} measuring a running cluster's
 * transports side by side through them.
 */
final class BenchJoinEndToEndTest {
  private ProcessCluster cluster;

  @BeforeEach
  void start() throws Exception {
    cluster = new ProcessCluster();
    // One worker beside the coordinator on shared memory, one on gRPC only.
    cluster.startCoordinator(0, "--local-workers", "1", "--local-transport", "shm");
    cluster.startWorker("remote", 2, "--transport", "grpc");
    cluster.awaitWorkers(2);
  }

  @AfterEach
  void stop() throws Exception {
    cluster.close();
  }

  @Test
  void aJobNamingItsWorkersRunsOnlyThere() {
    CliResult r =
        cluster.client(
            "submit",
            "exec",
            "--tasks",
            "6",
            "--on",
            "remote",
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "echo $WEFT_TEST_UNUSED ok");
    assertExit(0, r);
    Job job = r.job();
    assertEquals(JobState.SUCCEEDED, job.getState());
    List<TaskFailure> failures = job.getFailuresList();
    assertTrue(failures.isEmpty(), failures::toString);
    assertEquals(List.of("remote"), job.getSpec().getWorkersList());
    // Where each task ran shows in the worker's count of tasks done.
    long remoteDone =
        cluster.client("workers", "--json").workers().stream()
            .filter(w -> w.getId().equals("remote"))
            .findFirst()
            .orElseThrow()
            .getTasksDone();
    long othersDone =
        cluster.client("workers", "--json").workers().stream()
            .filter(w -> !w.getId().equals("remote"))
            .mapToLong(w -> w.getTasksDone())
            .sum();
    assertEquals(6, remoteDone);
    assertEquals(0, othersDone);
  }

  @Test
  void benchJoinMeasuresEachTransportOfARunningCluster() throws Exception {
    CliResult bench =
        cluster.cliProcess(
            "bench",
            "--join",
            cluster.coordinator().toString(),
            "--duration",
            "1s",
            "--warmup",
            "1s",
            "--rounds",
            "1",
            "--json");
    assertExit(0, bench);
    List<String> lines = bench.out().lines().filter(l -> l.startsWith("{")).toList();
    assertEquals(2, lines.size(), bench::toString);
    assertTrue(lines.stream().anyMatch(l -> l.contains("\"transport\":\"shm\"")), bench::toString);
    assertTrue(lines.stream().anyMatch(l -> l.contains("\"transport\":\"grpc\"")), bench::toString);
    for (String line : lines) {
      assertTrue(!line.contains("NaN"), () -> "a measurement is missing: " + line);
    }
  }
}
