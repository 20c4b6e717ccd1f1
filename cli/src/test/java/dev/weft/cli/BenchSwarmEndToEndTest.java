package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
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
 * {@code weft bench --path swarm} small: 50 workers of 2 slots in one load generator process, in a
 * network namespace of its own, against a coordinator process with its journal on. Asserts that it
 * works, not how fast: every worker attached once and ready to the end, every job's tasks all done
 * and counted exactly, the figures present, and nothing left behind (processes, namespace, veth,
 * data dir). Needs root and {@code ip}; skipped without them.
 */
final class BenchSwarmEndToEndTest {
  private static final int WORKERS = 50;
  private static final int TASKS_PER_JOB = 3_000;

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void fiftyWorkersInANamespaceRunEveryTaskOnce() throws Exception {
    assumeTrue(
        isRoot(), "the swarm path makes a network namespace and a veth pair, which needs root");
    assumeTrue(hasIp(), "the swarm path needs the ip command (iproute2)");
    Set<Path> dirsBefore = benchDirs();

    CliResult bench =
        ProcessCluster.cli(
            "bench",
            "--path",
            "swarm",
            "--workers",
            String.valueOf(WORKERS),
            "--slots",
            "2",
            "--client-tasks",
            String.valueOf(TASKS_PER_JOB),
            "--warmup",
            "1s",
            "--duration",
            "2s",
            "--json");

    assertExit(0, bench);
    JsonObject row = JsonParser.parseString(bench.out().strip()).getAsJsonObject();
    String where = row.toString();
    assertEquals("swarm", row.get("path").getAsString(), where);
    assertEquals(WORKERS, row.get("workers").getAsInt(), where);
    assertEquals(WORKERS, row.get("workers_ready").getAsInt(), "all ready at the end: " + where);
    assertEquals(WORKERS, row.get("attach_sessions").getAsInt(), "each attached once: " + where);
    assertEquals(2, row.get("slots").getAsInt(), where);
    long jobs = row.get("jobs_checked").getAsLong();
    assertTrue(jobs >= 1, where);
    assertEquals(
        jobs * TASKS_PER_JOB,
        row.get("tasks_checked").getAsLong(),
        "every job's tasks all done and counted: " + where);
    assertTrue(row.get("tasks_in_window").getAsLong() > 0, where);
    for (String figure :
        List.of("attach_ms", "tasks_per_s", "window_s", "rss_after", "heap_after", "heap_before")) {
      double value = row.get(figure).getAsDouble();
      assertTrue(value > 0 && Double.isFinite(value), () -> figure + " in " + where);
    }

    // Its processes, namespace, veth pair and data dir are gone.
    Leftovers.awaitNoChildren();
    assertEquals(dirsBefore, benchDirs());
    String namespaces = run("ip", "netns", "list");
    assertTrue(!namespaces.contains("weft-swarm-"), namespaces);
    String links = run("ip", "-o", "link", "show");
    assertTrue(!links.contains("wsw" + ProcessHandle.current().pid()), links);
  }

  @Test
  void swarmWithJoinIsAUsageError() {
    CliResult join = ProcessCluster.cli("bench", "--path", "swarm", "--join", "127.0.0.1:1");
    assertExit(ExitCodes.USAGE, join);
    assertTrue(join.err().contains("--path swarm starts its own coordinator"), join::toString);
  }

  private static boolean isRoot() throws IOException, InterruptedException {
    return run("id", "-u").strip().equals("0");
  }

  private static boolean hasIp() throws InterruptedException {
    try {
      run("ip", "-V");
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static String run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes());
    if (!process.waitFor(10, TimeUnit.SECONDS) || process.exitValue() != 0) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " failed: " + output);
    }
    return output;
  }

  private static Set<Path> benchDirs() throws IOException {
    try (Stream<Path> entries = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return entries
          .filter(p -> p.getFileName().toString().startsWith("weft-bench-swarm-"))
          .collect(Collectors.toSet());
    }
  }
}
