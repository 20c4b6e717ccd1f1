package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.WorkerInfo;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Resources and labels with real processes: a worker advertising 4 GiB and the label zone=b, and
 * one advertising 1 GiB. Tasks go only where what they ask fits and where their labels match.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
final class PlacementEndToEndTest {
  private static final Duration RUN_DEADLINE = Duration.ofSeconds(30);
  private ProcessCluster cluster;

  @BeforeAll
  void startCluster() throws Exception {
    cluster = new ProcessCluster();
    cluster.startCoordinator(0);
    cluster.startWorker("big", 4, "--resources", "mem=4g", "--label", "zone=b");
    cluster.startWorker("small", 4, "--resources", "mem=1g", "--label", "zone=a");
    cluster.awaitWorkers(2);
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private Map<String, Long> tasksDone() {
    return cluster.workers().stream()
        .collect(Collectors.toMap(WorkerInfo::getId, WorkerInfo::getTasksDone));
  }

  private Job succeeds(String... submit) {
    CliResult r = cluster.client(submit);
    assertExit(0, r);
    assertEquals(JobState.SUCCEEDED, r.job().getState(), r::toString);
    return r.job();
  }

  @Test
  void tasksAskingTwoGigabytesRunOnlyOnTheWorkerThatHasThem() {
    Map<String, Long> before = tasksDone();
    succeeds("submit", "exec", "--mem", "2g", "--tasks", "6", "--wait", "--json", "--", "true");
    Map<String, Long> after = tasksDone();
    assertEquals(before.get("big") + 6, after.get("big"), after::toString);
    assertEquals(before.get("small"), after.get("small"), after::toString);
  }

  @Test
  void aTaskBeyondItsMemoryIsKilledByTheKernelAndTheWorkerCarriesOn() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        memoryControllerWritable(),
        "skipped: no memory controller this test's workers can use (cgroup v2 or v1, as root)");
    // tail keeps a line without a newline in memory: it grows until the kernel stops it.
    CliResult r =
        cluster.client(
            "submit",
            "exec",
            "--mem",
            "32m",
            "--require",
            "zone=a",
            "--tasks",
            "1",
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "head -c 512m /dev/zero | tail");
    assertExit(1, r);
    Job job = r.job();
    assertEquals(JobState.FAILED, job.getState(), r::toString);
    assertTrue(
        job.getFailures(0).getError().startsWith("killed by the out-of-memory killer"),
        job::toString);
    assertEquals(137, job.getResult().getExec().getTasks(0).getExitCode(), job::toString);
    // The worker lives on and runs the next task.
    succeeds(
        "submit", "exec", "--require", "zone=a", "--tasks", "1", "--wait", "--json", "--", "true");
  }

  private static boolean memoryControllerWritable() throws java.io.IOException {
    java.nio.file.Path v1 = java.nio.file.Path.of("/sys/fs/cgroup/memory");
    if (java.nio.file.Files.isWritable(v1.resolve("cgroup.procs"))) {
      return true;
    }
    for (String line :
        java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/mounts"))) {
      String[] f = line.split(" ");
      if (f.length > 2 && f[2].equals("cgroup2")) {
        java.nio.file.Path controllers = java.nio.file.Path.of(f[1], "cgroup.controllers");
        if (java.nio.file.Files.isReadable(controllers)
            && java.nio.file.Files.readString(controllers).contains("memory")
            && java.nio.file.Files.isWritable(java.nio.file.Path.of(f[1]))) {
          return true;
        }
      }
    }
    return false;
  }

  @Test
  void aRequiredLabelChoosesTheWorker() {
    Map<String, Long> before = tasksDone();
    succeeds(
        "submit", "exec", "--require", "zone=a", "--tasks", "5", "--wait", "--json", "--", "true");
    Map<String, Long> after = tasksDone();
    assertEquals(before.get("small") + 5, after.get("small"), after::toString);
    assertEquals(before.get("big"), after.get("big"), after::toString);
  }

  @Test
  void aJobThatFitsNoWorkerSaysWhyAndAStrictOneIsRefused() throws Exception {
    CliResult waiting =
        cluster.client("submit", "exec", "--mem", "8g", "--tasks", "1", "--json", "--", "true");
    assertExit(0, waiting);
    String id = waiting.job().getId();
    CliResult status = cluster.client("status", id);
    assertTrue(
        status
            .out()
            .contains(
                "waiting    no attached worker is large enough for a task asking mem=8.0 GiB (the"
                    + " largest have cpu=4, mem=4.0 GiB, gpu=0); its tasks wait until one"
                    + " attaches\n"),
        status::toString);
    assertTrue(status.out().contains("each task  mem=8.0G\n"), status::toString);
    assertExit(0, cluster.client("cancel", id));

    CliResult strict =
        cluster.client(
            "submit", "exec", "--require", "zone=c", "--strict", "--tasks", "1", "--", "true");
    assertExit(2, strict);
    assertTrue(
        strict
            .err()
            .contains(
                "no attached worker has the labels zone=c; --strict refuses such a job (without"
                    + " it, the job waits)"),
        strict::toString);

    CliResult workers = cluster.client("workers");
    assertExit(0, workers);
    assertTrue(
        workers.out().lines().anyMatch(l -> l.startsWith("big") && l.contains("zone=b")),
        workers::toString);
    Await.until(
        "the cancelled job to end",
        RUN_DEADLINE,
        () -> cluster.client("status", id, "--json").job().getState() == JobState.CANCELLED);
  }
}
