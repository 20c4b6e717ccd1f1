package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.WorkerInfo;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
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

  @BeforeEach
  void startCluster() throws Exception {
    cluster = new ProcessCluster();
    cluster.startWithWorkers(2);
  }

  @AfterEach
  void stopCluster() throws Exception {
    cluster.close();
  }

  @Test
  void aBusyWorkerDrainsOnSigtermAndTheJobStillCompletesExactly() throws Exception {
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
    Await.until("w1 to run tasks", Duration.ofSeconds(20), () -> busy("w1") > 0);

    assertEquals(0, ProcessCluster.terminate(process("w1")), cluster::logTails);

    Job job = awaitEnd(id, Duration.ofSeconds(120));
    assertEquals(JobState.SUCCEEDED, job.getState(), job::toString);
    assertEquals(PRIMES_TO_A_BILLION, job.getResult().getPrimes().getCount());
    assertEquals(200, job.getTasksDone());
    assertTrue(
        cluster.logTails().contains("draining"),
        () -> "w1 said nothing of draining\n" + cluster.logTails());
  }

  @Test
  void theCoordinatorReportsNotServingOnSigtermExitsZeroAndWorkersDetach() throws Exception {
    String id =
        cluster.client("submit", "sleep", "--ms", "60000", "--tasks", "2", "--json").job().getId();
    Await.until("the job to run", Duration.ofSeconds(20), () -> busy("w1") + busy("w2") > 0);
    List<ServingStatus> seen = new CopyOnWriteArrayList<>();
    AtomicReference<Throwable> ended = new AtomicReference<>();
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", cluster.coordinator().port())
            .usePlaintext()
            .build();
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

  private Job awaitEnd(String id, Duration timeout) throws InterruptedException {
    AtomicReference<Job> last = new AtomicReference<>();
    Await.until(
        "job " + id + " to end",
        timeout,
        () -> {
          CliResult status = cluster.client("status", id, "--json");
          last.set(status.job());
          JobState state = last.get().getState();
          return state == JobState.SUCCEEDED
              || state == JobState.FAILED
              || state == JobState.CANCELLED;
        },
        () -> "last seen: " + last.get() + "\n" + cluster.logTails());
    return last.get();
  }

  private int busy(String workerId) {
    return cluster.client("workers", "--json").workers().stream()
        .filter(w -> w.getId().equals(workerId))
        .mapToInt(WorkerInfo::getBusy)
        .sum();
  }

  private Process process(String workerId) {
    long pid =
        cluster.client("workers", "--json").workers().stream()
            .filter(w -> w.getId().equals(workerId))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no worker " + workerId))
            .getPid();
    return cluster.processes().stream()
        .filter(p -> p.pid() == pid)
        .findFirst()
        .orElseThrow(() -> new AssertionError("worker " + workerId + " is not ours"));
  }
}
