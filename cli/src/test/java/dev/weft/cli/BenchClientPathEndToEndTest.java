package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code weft bench --path client} on tiny sizes: a client row per transport, measured by a client
 * process of its own against coordinators (journal on) and worker processes the bench starts, with
 * every figure present and sane, the sum exact, and nothing left running or on disk afterwards.
 */
final class BenchClientPathEndToEndTest {
  private static final String SUM = "500000000500000000"; // 1 + 2 + ... + 1e9

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void theClientPathGivesEveryRowOnEveryTransport() throws Exception {
    Set<Path> dataDirsBefore = benchDataDirs();

    CliResult bench =
        ProcessCluster.cli(
            "bench",
            "--path",
            "client",
            "--transports",
            "grpc,pipe,shm",
            "--client-tasks",
            "500",
            "--duration",
            "600ms",
            "--warmup",
            "1s",
            "--rounds",
            "2",
            "--slots",
            "1",
            "--json");

    assertExit(0, bench);
    List<JsonObject> rows =
        bench.out().lines().map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
    assertEquals(
        List.of("grpc", "pipe", "shm"),
        rows.stream().map(r -> r.get("transport").getAsString()).toList(),
        bench::toString);
    for (JsonObject row : rows) {
      String where = row.toString();
      assertEquals("client", row.get("path").getAsString(), where);
      assertTrue(row.get("journal").getAsBoolean(), where);
      assertTrue(
          List.of("RunJob", "SubmitJob+WatchJob").contains(row.get("api").getAsString()), where);
      assertTrue(
          List.of("RunJobs", "SubmitJob+WatchJob").contains(row.get("pipeline_api").getAsString()),
          where);
      assertEquals(2, row.get("workers").getAsInt(), where);
      assertEquals(256, row.get("in_flight").getAsInt(), where);
      assertEquals(500, row.get("big_job_tasks").getAsInt(), where);
      for (String figure :
          List.of(
              "unary_p50_us",
              "unary_p99_us",
              "rtt_p50_us",
              "rtt_p99_us",
              "jobs_per_s",
              "big_job_tasks_per_s",
              "sum_ms")) {
        double value = row.get(figure).getAsDouble();
        assertTrue(value > 0 && Double.isFinite(value), () -> figure + " in " + where);
      }
      assertTrue(row.get("unary_samples").getAsLong() > 0, where);
      assertTrue(row.get("rtt_samples").getAsLong() > 0, where);
      assertTrue(row.get("rtt_p50_us").getAsDouble() <= row.get("rtt_p99_us").getAsDouble(), where);
      assertTrue(
          row.get("unary_p50_us").getAsDouble() <= row.get("unary_p99_us").getAsDouble(), where);
      assertEquals(SUM, row.get("sum_result").getAsString(), where);
    }
    assertEquals(
        BigInteger.valueOf(1_000_000_000L)
            .multiply(BigInteger.valueOf(1_000_000_001L))
            .shiftRight(1),
        new BigInteger(SUM));

    // The coordinators, their workers and the client processes are gone, and so are the data dirs.
    Leftovers.awaitNoChildren();
    assertEquals(dataDirsBefore, benchDataDirs());
  }

  @Test
  void badChoicesAreUsageErrors() {
    CliResult path = ProcessCluster.cli("bench", "--path", "user");
    assertExit(ExitCodes.USAGE, path);
    assertTrue(
        path.err().contains("--path must be link, client, both or swarm, got 'user'"),
        path::toString);

    CliResult tasks = ProcessCluster.cli("bench", "--path", "client", "--client-tasks", "0");
    assertExit(ExitCodes.USAGE, tasks);
    assertTrue(tasks.err().contains("--client-tasks must be 1 to 1000000, got 0"), tasks::toString);

    CliResult join = ProcessCluster.cli("bench", "--path", "client", "--join", "127.0.0.1:1");
    assertExit(ExitCodes.USAGE, join);
    assertTrue(join.err().contains("--path client measures coordinators"), join::toString);
  }

  /** The bench's own temporary data dirs of client rows, as they are now. */
  private static Set<Path> benchDataDirs() throws IOException {
    try (Stream<Path> entries = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return entries
          .filter(p -> p.getFileName().toString().startsWith("weft-bench-client-"))
          .collect(Collectors.toSet());
    }
  }
}
