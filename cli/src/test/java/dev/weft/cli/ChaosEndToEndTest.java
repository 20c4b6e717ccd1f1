package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import dev.weft.v1.WorkerInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Workers dying at the worst moments: no task is lost and none counts twice. */
final class ChaosEndToEndTest {
  private static final long PRIMES_TO_FIVE_BILLION = 234_954_223; // pi(5 * 10^9)

  private ProcessCluster cluster;

  @BeforeEach
  void newCluster() throws Exception {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stopCluster() throws Exception {
    cluster.close();
  }

  @Test
  void sigkillingARandomWorkerEverySecondLosesNothing() throws Exception {
    cluster.startWithWorkers(3);
    List<Process> alive = new ArrayList<>(workerProcesses());
    String id =
        cluster
            .client(
                "submit",
                "primes",
                "--from",
                "1",
                "--to",
                // Small enough that the job ends while a worker JVM starts every second on two
                // busy cores, large enough that several workers die under it.
                "5_000_000_000",
                "--tasks",
                "2000",
                // Each kill costs the attempts it held; enough attempts that no task runs out.
                "--max-attempts",
                "20",
                "--json")
            .job()
            .getId();
    Random random = new Random(7);
    int killed = 0;
    int next = 4;
    Job job;
    while ((job = awaitEnd(id, Duration.ofSeconds(1))) == null) {
      Process victim = alive.remove(random.nextInt(alive.size()));
      victim.destroyForcibly();
      assertTrue(victim.waitFor(10, TimeUnit.SECONDS));
      killed++;
      alive.add(cluster.startWorker("w" + next++, 2));
      assertTrue(killed < 120, "the job did not end within two minutes of chaos");
    }

    assertEquals(JobState.SUCCEEDED, job.getState(), job::toString);
    assertEquals(PRIMES_TO_FIVE_BILLION, job.getResult().getPrimes().getCount());
    assertEquals(2000, job.getTasksTotal());
    assertEquals(2000, job.getTasksDone(), "every task counted exactly once");
    assertTrue(killed >= 3, "only " + killed + " workers killed: the job ended too soon");
    System.out.printf(
        "chaos: %d workers SIGKILLed, %d attempts for %d tasks%n",
        killed, job.getAttempts(), job.getTasksTotal());
  }

  @Test
  void aTaskThatKillsItsWorkerFailsTheJobAfterItsAttemptsAndOthersCarryOn() throws Exception {
    cluster.startCoordinator(
        0, "--local-workers", "2", "--local-transport", "pipe", "--local-slots", "1");
    cluster.awaitWorkers(2);

    // The task's shell is a child of the worker's JVM: it SIGKILLs its worker, every time.
    CliResult poison =
        cluster.client(
            "submit",
            "exec",
            "--max-attempts",
            "3",
            "--wait",
            "--json",
            "--",
            "sh",
            "-c",
            "kill -KILL $PPID; sleep 60");

    Job failed = poison.job();
    assertEquals(JobState.FAILED, failed.getState(), poison::toString);
    assertEquals(3, failed.getAttempts(), failed::toString);
    assertEquals(3, failed.getFailuresCount(), failed::toString);
    for (TaskFailure failure : failed.getFailuresList()) {
      assertTrue(failure.getError().contains("lost"), failure::toString);
    }
    cluster.awaitWorkers(2);
    CliResult sum =
        cluster.client(
            "submit",
            "sum",
            "--from",
            "1",
            "--to",
            "1_000_000",
            "--tasks",
            "8",
            "--wait",
            "--json");
    assertEquals(JobState.SUCCEEDED, sum.job().getState(), sum::toString);
    assertEquals("500000500000", sum.job().getResult().getSum().getSum());
  }

  private List<Process> workerProcesses() {
    List<Long> pids =
        cluster.client("workers", "--json").workers().stream().map(WorkerInfo::getPid).toList();
    return cluster.processes().stream().filter(p -> pids.contains(p.pid())).toList();
  }

  /** The job once it has ended, or null when it is still running after {@code wait}. */
  private Job awaitEnd(String id, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    AtomicReference<Job> last = new AtomicReference<>();
    do {
      last.set(cluster.client("status", id, "--json").job());
      JobState state = last.get().getState();
      if (state == JobState.SUCCEEDED || state == JobState.FAILED || state == JobState.CANCELLED) {
        return last.get();
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
    } while (System.nanoTime() < deadline);
    return null;
  }
}
