package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code weft demo} as a user runs it: a JVM of its own that must leave nothing running. */
final class DemoEndToEndTest {
  private ProcessCluster processes;

  @BeforeEach
  void setUp() throws Exception {
    processes = new ProcessCluster();
  }

  @AfterEach
  void tearDown() throws Exception {
    processes.close();
  }

  @Test
  void demoRunsGreenAndLeavesNothingRunning() throws Exception {
    CliResult r = processes.cliProcess("demo");

    assertExit(0, r);
    assertEquals(2, r.out().lines().filter(line -> line.contains("  OK  ")).count(), r::toString);
    assertTrue(r.out().contains("500000000500000000"), r::toString);
    assertTrue(r.out().contains("3001134"), r::toString);
    assertEquals(
        2,
        r.out().lines().filter(line -> line.matches(".*transport (grpc|shm|pipe) .*")).count(),
        r::toString);
    assertTrue(r.out().contains("tasks/s"), r::toString);
    assertFalse(r.out().contains("MISMATCH"), r::toString);

    Matcher pids = Pattern.compile("pids \\[([0-9, ]+)]").matcher(r.out());
    assertTrue(pids.find(), r::toString);
    List<Long> workerPids =
        Arrays.stream(pids.group(1).split(",\\s*")).map(Long::parseLong).toList();
    assertEquals(2, workerPids.size());
    for (long pid : workerPids) {
      assertFalse(
          ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
          "worker " + pid + " outlived the demo");
    }
  }
}
