package dev.weft.cli;

import static dev.weft.cli.ProcessCluster.assertExit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** SIGTERM to weft's own processes: workers drain, the coordinator stops gracefully. */
final class SignalsEndToEndTest {
  private static final long PRIMES_TO_A_BILLION = 50_847_534; // pi(10^9)

  private ProcessCluster cluster;
  private String marker;

  @BeforeEach
  void newCluster() throws Exception {
    cluster = new ProcessCluster();
    marker = TaskProcesses.marker();
  }

  @AfterEach
  void stopCluster() throws Exception {
    try {
      cluster.close();
    } finally {
      List<TaskProcesses.TaskProcess> left = TaskProcesses.killAll(marker);
      assertTrue(left.isEmpty(), () -> "task processes outlived the test: " + left);
    }
  }

  @Test
  void aBusyWorkerDrainsOnSigtermAndTheJobStillCompletesExactly() throws Exception {
    cluster.startWithWorkers(2);
    String id =
        cluster
            .client(
                "submit",
                "primes",
                "--from",
                "1",
                "--to",
                "1_000_000_000",
                "--tasks",
                "200",
                "--json")
            .job()
            .getId();
    Await.until("w1 to run tasks", Duration.ofSeconds(20), () -> cluster.busy("w1") > 0);

    assertEquals(0, ProcessCluster.terminate(cluster.workerProcess("w1")), cluster::logTails);

    Job job = cluster.awaitEnd(id, Duration.ofSeconds(120));
    assertEquals(JobState.SUCCEEDED, job.getState(), job::toString);
    assertEquals(PRIMES_TO_A_BILLION, job.getResult().getPrimes().getCount());
    assertEquals(200, job.getTasksDone());
    assertTrue(
        cluster.logTails().contains("draining"),
        () -> "w1 said nothing of draining\n" + cluster.logTails());
  }

  @Test
  void theCoordinatorReportsNotServingOnSigtermExitsZeroAndWorkersDetach() throws Exception {
    cluster.startWithWorkers(2);
    String id =
        cluster.client("submit", "sleep", "--ms", "60000", "--tasks", "2", "--json").job().getId();
    Await.until(
        "the job to run",
        Duration.ofSeconds(20),
        () -> cluster.busy("w1") + cluster.busy("w2") > 0);
    List<ServingStatus> seen = new CopyOnWriteArrayList<>();
    AtomicReference<Throwable> ended = new AtomicReference<>();
    ManagedChannel channel = cluster.channelBuilder().build();
    try {
      HealthGrpc.newStub(channel)
          .watch(
              HealthCheckRequest.newBuilder().setService("").build(),
              new StreamObserver<>() {
                @Override
                public void onNext(HealthCheckResponse value) {
                  seen.add(value.getStatus());
                }

                @Override
                public void onError(Throwable t) {
                  ended.set(t);
                }

                @Override
                public void onCompleted() {}
              });
      Await.until(
          "health to say SERVING",
          Duration.ofSeconds(10),
          () -> seen.contains(ServingStatus.SERVING));

      Process coordinator = cluster.coordinatorProcess();
      coordinator.destroy(); // SIGTERM

      Await.until(
          "health to turn NOT_SERVING",
          Duration.ofSeconds(10),
          () -> seen.contains(ServingStatus.NOT_SERVING),
          () -> "seen " + seen + ", stream ended with " + ended.get() + "\n" + cluster.logTails());
      assertTrue(
          coordinator.waitFor(ProcessCluster.STOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
      assertEquals(0, coordinator.exitValue(), cluster::logTails);
    } finally {
      channel.shutdownNow();
    }
    // The workers detached when told to, handing back job {@code id}'s tasks, and wait to attach
    // again; they are still running and stop cleanly on SIGTERM.
    String logs = cluster.logTails();
    assertTrue(logs.contains("the coordinator is shutting down"), logs);
    for (Process worker : cluster.processes()) {
      if (worker != cluster.coordinatorProcess()) {
        assertTrue(
            worker.isAlive(),
            () -> "a worker exited with its coordinator (job " + id + ")\n" + logs);
      }
    }
  }

  @Test
  void aSecondSignalKillsTheWorkersTaskProcessesAndExitsAtOnce() throws Exception {
    cluster.startWithWorkers(1);
    String id = submitSleeps(2);
    Process worker = cluster.workerProcess("w1");

    worker.destroy(); // SIGTERM: the worker drains, waiting for its two tasks
    Await.until(
        "w1 to drain", Duration.ofSeconds(10), () -> cluster.logTails().contains("draining"));
    assertTrue(worker.isAlive(), "a draining worker waits for its running tasks");
    worker.destroy(); // the second SIGTERM: now

    assertTrue(worker.waitFor(5, TimeUnit.SECONDS), cluster::logTails);
    assertEquals(ExitCodes.INTERRUPTED, worker.exitValue());
    awaitNoTaskProcess("after the second SIGTERM");
    assertExit(0, cluster.client("cancel", id, "--no-wait"));
  }

  @Test
  void aSpawnedWorkerThatStopsAnsweringIsReclaimedAndStartedAgain() throws Exception {
    cluster.startCoordinator(0, "--local-workers", "1", "--local-transport", "pipe");
    cluster.awaitWorkers(1);
    long silent = cluster.workers().getFirst().getPid();

    TaskProcesses.signal(silent, "STOP");

    // Lease (4 s), then 10 s for it to come back by itself, then SIGTERM; then a restart.
    Await.until(
        "the coordinator to start a new local worker",
        Duration.ofSeconds(60),
        () -> cluster.workers().stream().anyMatch(w -> w.getPid() != silent),
        cluster::logTails);
    Await.until(
        "the silent worker to be gone",
        Duration.ofSeconds(15),
        () -> ProcessHandle.of(silent).map(p -> !p.isAlive()).orElse(true),
        cluster::logTails);
    assertTrue(cluster.logTails().contains("stopped answering"), cluster::logTails);
  }

  @Test
  void aWorkerWhoseCoordinatorFallsSilentStopsItsTasks() throws Exception {
    cluster.startWithWorkers(1);
    String id = submitSleeps(2);
    long coordinator = cluster.coordinatorProcess().pid();

    TaskProcesses.signal(coordinator, "STOP");
    try {
      // The lease is 4 s; the tasks get a short grace once the worker gives up on its coordinator.
      awaitNoTaskProcess("while the coordinator is stopped");
    } finally {
      TaskProcesses.signal(coordinator, "CONT");
    }
    assertExit(0, cluster.client("cancel", id, "--no-wait"));
  }

  @Test
  void taskProcessesOfAKilledWorkerAreKilledWhenTheNextWorkerStarts() throws Exception {
    cluster.startWithWorkers(1);
    String id =
        cluster
            .client(
                "submit",
                "exec",
                "--json",
                "--",
                "sh",
                "-c",
                "sleep " + marker + " & sleep " + marker + " & wait")
            .job()
            .getId();
    Await.until(
        "the task's two grandchildren to run",
        Duration.ofSeconds(20),
        () -> TaskProcesses.find(marker, "sleep").size() == 2,
        () -> TaskProcesses.describe(marker));

    cluster.workerProcess("w1").destroyForcibly(); // SIGKILL: the worker cannot clean up
    // Its task goes back to the queue; cancelled, it does not start again on the next worker.
    Await.until(
        "the coordinator to notice",
        Duration.ofSeconds(20),
        () ->
            cluster.client("cancel", id, "--no-wait").exitCode() == 0
                && cluster.workers().isEmpty());
    assertTrue(
        !TaskProcesses.find(marker, "sleep").isEmpty(),
        "the grandchildren outlive a SIGKILLed worker until the next one sweeps them");

    cluster.startWorker("w2", 1);
    awaitNoTaskProcess("once the next worker started");
    Await.until(
        "the new worker to say what it swept",
        Duration.ofSeconds(10),
        // Through the task's cgroup where the worker made one, else through its process group.
        () ->
            cluster.logTails().contains("by an exec task of a worker now gone")
                || cluster.logTails().contains("left running by an exec task of dead worker"),
        cluster::logTails);
  }

  private String submitSleeps(int tasks) throws InterruptedException {
    String id =
        cluster
            .client(
                "submit",
                "exec",
                "--tasks",
                Integer.toString(tasks),
                "--json",
                "--",
                "sleep",
                marker)
            .job()
            .getId();
    Await.until(
        "the task processes to run",
        Duration.ofSeconds(20),
        () -> TaskProcesses.find(marker, "sleep").size() == tasks,
        () -> TaskProcesses.describe(marker) + cluster.logTails());
    return id;
  }

  private void awaitNoTaskProcess(String when) throws InterruptedException {
    Await.until(
        "no task process left " + when,
        Duration.ofSeconds(20),
        () -> TaskProcesses.find(marker).isEmpty(),
        () -> TaskProcesses.describe(marker) + cluster.logTails());
  }
}
