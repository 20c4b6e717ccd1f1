package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker and a waiting {@code submit --wait} given two addresses follow their coordinator from
 * the first to the second: the coordinator on the first port is SIGKILLed mid-job and one on the
 * same data dir (the same journal, CA and tokens) starts on the second port, as a standby taking
 * over would. The worker attaches there by itself and the wait prints the job's whole result. Both
 * find their tokens through the user's registry, by each address's port.
 */
final class FollowLeaderEndToEndTest {
  private static final int TASKS = 24;
  private static final Duration JOB_DEADLINE = Duration.ofSeconds(60);

  private ProcessCluster cluster;
  private final List<String> coordinatorIds = new ArrayList<>();

  @BeforeEach
  void createCluster() throws Exception {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stopCluster() throws Exception {
    try {
      cluster.close();
    } finally {
      for (String id : coordinatorIds) {
        Leftovers.awaitNoSegments(id);
      }
    }
  }

  @Test
  void aWorkerAndAWaitingSubmitFollowTheCoordinatorToItsOtherAddress() throws Exception {
    int first = ProcessCluster.freePort();
    int second = ProcessCluster.freePort();
    String both = "127.0.0.1:" + first + ",127.0.0.1:" + second;
    cluster.startCoordinator(first);
    coordinatorIds.add(cluster.coordinatorId());
    cluster.startWorkerJoining(both, "w1", 2);
    cluster.awaitWorkers(1);

    // No token in the environment: each address's is looked up in the registry by its port.
    ProcessCluster.RunningCli waiting =
        cluster.startCliProcess(
            Map.of("WEFT_TOKEN", ""),
            "submit",
            "exec",
            "--tasks",
            String.valueOf(TASKS),
            "--wait",
            "--json",
            "--coordinator",
            both,
            "--",
            "sh",
            "-c",
            "sleep 0.3; echo task-{}");
    Await.until(
        "a quarter of the tasks to be done",
        JOB_DEADLINE,
        () -> {
          List<Job> jobs = cluster.client("jobs", "--json").jobs();
          return jobs.size() == 1 && jobs.getFirst().getTasksDone() >= TASKS / 4;
        },
        () -> cluster.logTails() + "\nsubmit: " + waiting.errSoFar());
    String id = cluster.client("jobs", "--json").jobs().getFirst().getId();

    Process killed = cluster.coordinatorProcess();
    killed.destroyForcibly();
    assertTrue(killed.waitFor(10, TimeUnit.SECONDS), "SIGKILL ignored");
    cluster.startCoordinator(second);
    coordinatorIds.add(cluster.coordinatorId());

    // The worker comes over by itself and says where it attached.
    cluster.awaitWorkers(1);
    String attachedLine =
        "attached to coordinator " + cluster.coordinatorId() + " at 127.0.0.1:" + second;
    Await.until(
        "the worker to log where it attached",
        JOB_DEADLINE,
        () -> cluster.log("w1").contains(attachedLine),
        cluster::logTails);

    CliResult waited = waiting.await();
    assertExit(0, waited);
    Job done = waited.job();
    assertEquals(id, done.getId());
    assertEquals(JobState.SUCCEEDED, done.getState(), done::toString);
    assertEquals(TASKS, done.getResult().getExec().getSucceeded(), done::toString);
    List<ExecOutcome> outcomes = done.getResult().getExec().getTasksList();
    assertEquals(
        IntStream.range(0, TASKS).boxed().toList(),
        outcomes.stream().map(ExecOutcome::getTask).sorted().toList());
    for (ExecOutcome outcome : outcomes) {
      assertEquals("task-" + outcome.getTask(), outcome.getStdoutTail().strip(), done::toString);
    }
  }
}
