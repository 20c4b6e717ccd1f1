package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
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
  private TestNetns netns;
  private ProcessCluster cluster;

  @BeforeEach
  void makeTheOtherHost() throws Exception {
    netns = TestNetns.make("t", "10.252");
    cluster = new ProcessCluster();
  }

  @AfterEach
  void removeIt() throws Exception {
    try {
      if (cluster != null) {
        cluster.close();
      }
    } finally {
      if (netns != null) {
        netns.close();
      }
    }
  }

  @Test
  void aPartitionedWorkerLosesItsTasksToAnotherAndTheResultStaysExact() throws Exception {
    Address coordinator = cluster.startCoordinatorOn(netns.hostIp);
    // gRPC only: the namespace shares /dev/shm with us, so shm would bypass the cut.
    cluster.startWorkerInNamespace(netns.name, coordinator, "remote", 4, "--transport", "grpc");
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
    netns.nft(
        """
        table inet weft-partition {
          chain in { type filter hook input priority 0; policy accept; iifname "%1$s" drop; }
          chain out { type filter hook output priority 0; policy accept; oifname "%1$s" drop; }
        }
        """
            .formatted(netns.nsSide));
  }

  private void heal() throws IOException, InterruptedException {
    netns.deleteTable("weft-partition");
  }
}
