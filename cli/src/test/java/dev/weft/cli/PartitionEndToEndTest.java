package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.WorkerInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker on another "host" (a network namespace this test makes, joined to the test's own by a
 * veth pair) is cut off by an nftables rule in its namespace that drops every packet on its link,
 * in and out: its TCP connection stays open but silent, as across a real partition. The coordinator
 * declares it dead within its lease, its tasks move to another worker, and when the rule goes the
 * job's result is still exact with every task counted once. Needs root for {@code ip netns} and nft
 * (./build test installs it); skipped, saying why, without them.
 */
final class PartitionEndToEndTest {
  private final String suffix =
      Integer.toString(ThreadLocalRandom.current().nextInt(10_000, 99_999));
  private final String netns = "weft-t" + suffix;
  private final String hostSide = "wt" + suffix + "a";
  private final String nsSide = "wt" + suffix + "b";
  private final int subnet = ThreadLocalRandom.current().nextInt(1, 250);
  private final String coordinatorIp = "10.252." + subnet + ".1";
  private final String workerIp = "10.252." + subnet + ".2";
  private ProcessCluster cluster;
  private boolean made;

  @BeforeEach
  void makeTheOtherHost() throws Exception {
    assumeTrue(
        Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
        "skipped: iproute2's ip is not installed, so no network namespace can be made");
    assumeTrue(
        Files.isExecutable(Path.of("/usr/sbin/nft")) || Files.isExecutable(Path.of("/sbin/nft")),
        "skipped: nft (Debian package nftables) is not installed, so no partition can be made;"
            + " ./build test installs it when run as root");
    assumeTrue(
        "0".equals(run(List.of("id", "-u")).strip()),
        "skipped: making network namespaces needs root, and this test runs as uid "
            + run(List.of("id", "-u")).strip());
    ip("netns", "add", netns);
    made = true;
    ip("link", "add", hostSide, "type", "veth", "peer", "name", nsSide);
    ip("link", "set", nsSide, "netns", netns);
    ip("addr", "add", coordinatorIp + "/30", "dev", hostSide);
    ip("link", "set", hostSide, "up");
    ip("netns", "exec", netns, "ip", "addr", "add", workerIp + "/30", "dev", nsSide);
    ip("netns", "exec", netns, "ip", "link", "set", nsSide, "up");
    ip("netns", "exec", netns, "ip", "link", "set", "lo", "up");
    cluster = new ProcessCluster();
  }

  @AfterEach
  void removeIt() throws Exception {
    try {
      if (cluster != null) {
        cluster.close();
      }
    } finally {
      if (made) {
        // Deleting one end of a veth pair deletes both.
        runQuietly(List.of("ip", "link", "del", hostSide));
        ip("netns", "del", netns);
      }
    }
  }

  @Test
  void aPartitionedWorkerLosesItsTasksToAnotherAndTheResultStaysExact() throws Exception {
    Address coordinator = cluster.startCoordinatorOn(coordinatorIp);
    // gRPC only: the namespace shares /dev/shm with us, so shm would bypass the cut.
    cluster.startWorkerInNamespace(netns, coordinator, "remote", 4, "--transport", "grpc");
    cluster.awaitWorkers(1);
    String id =
        cluster
            .client(
                "submit",
                "exec",
                "--args",
                "1",
                "2",
                "3",
                "4",
                "--json",
                "--",
                "sh",
                "-c",
                "sleep 3; echo task {}")
            .job()
            .getId();
    Await.until(
        "the remote worker to run all four tasks",
        Duration.ofSeconds(20),
        () -> cluster.busy("remote") == 4,
        cluster::logTails);

    partition();
    try {
      cluster.startWorker("local", 4);
      Job job = cluster.awaitEnd(id, Duration.ofSeconds(60));
      assertEquals(JobState.SUCCEEDED, job.getState(), job::toString);
      assertEquals(4, job.getTasksDone());
      assertTrue(
          job.getFailuresList().stream().allMatch(f -> f.getWorkerId().equals("remote")),
          job::toString);
      assertTrue(job.getFailuresCount() >= 4, "the remote worker's attempts were lost: " + job);
      assertEachTaskOnce(job);
    } finally {
      heal();
    }

    Await.until(
        "the remote worker to attach again",
        Duration.ofSeconds(60),
        () -> cluster.busy("remote") >= 0 && workerIds().contains("remote"),
        cluster::logTails);
    Job after = cluster.client("status", id, "--json").job();
    assertEquals(4, after.getTasksDone(), "a late result counted again: " + after);
    assertEachTaskOnce(after);
  }

  private static void assertEachTaskOnce(Job job) {
    List<ExecOutcome> outcomes = job.getResult().getExec().getTasksList();
    assertEquals(4, outcomes.size(), job::toString);
    for (int task = 0; task < 4; task++) {
      ExecOutcome outcome = outcomes.get(task);
      assertEquals(task, outcome.getTask());
      assertEquals("task " + (task + 1) + "\n", outcome.getStdoutTail());
    }
  }

  private List<String> workerIds() {
    return cluster.client("workers", "--json").workers().stream().map(WorkerInfo::getId).toList();
  }

  /** Drops every packet the worker's host sends or receives on its link; loopback still works. */
  private void partition() throws IOException, InterruptedException {
    String rules =
        """
        table inet weft-partition {
          chain in { type filter hook input priority 0; policy accept; iifname "%1$s" drop; }
          chain out { type filter hook output priority 0; policy accept; oifname "%1$s" drop; }
        }
        """
            .formatted(nsSide);
    Path file = Files.createTempFile("weft-partition", ".nft");
    try {
      Files.writeString(file, rules);
      ip("netns", "exec", netns, "nft", "-f", file.toString());
    } finally {
      Files.delete(file);
    }
  }

  private void heal() throws IOException, InterruptedException {
    ip("netns", "exec", netns, "nft", "delete", "table", "inet", "weft-partition");
  }

  private static void ip(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("ip"));
    command.addAll(List.of(args));
    run(command);
  }

  private static String run(List<String> command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError(String.join(" ", command) + " did not return");
    }
    if (process.exitValue() != 0) {
      throw new AssertionError(String.join(" ", command) + " failed: " + output.strip());
    }
    return output;
  }

  private static void runQuietly(List<String> command) throws InterruptedException {
    try {
      run(command);
    } catch (IOException | AssertionError e) {
      System.err.println("cleanup: " + e.getMessage());
    }
  }
}
