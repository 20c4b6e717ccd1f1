package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.SleepParams;
import dev.weft.wire.Address;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the two Ctrl-Cs of {@code weft submit --wait} do, without signals: a coordinator in this JVM
 * with no worker, so a job stays QUEUED until it is cancelled.
 */
final class CancelOnInterruptTest {
  private static final JobSpec NAP =
      JobSpec.newBuilder().setSleep(SleepParams.newBuilder().setMs(60_000)).setTasks(3).build();

  private Coordinator coordinator;
  private CoordinatorClient client;
  private final StringWriter err = new StringWriter();
  private JobWatcher watcher;
  private CancelOnInterrupt ctrlC;

  @BeforeEach
  void start() throws Exception {
    // Ctrl-C handling, not the door: a plain-text coordinator.
    coordinator =
        Coordinator.start(
            new CoordinatorConfig()
                .listen("127.0.0.1", 0)
                .security(new SecurityConfig().insecure(true)));
    client = new CoordinatorClient(new Address("127.0.0.1", coordinator.port()));
    watcher = new JobWatcher(client, JobWatcher.WATCH_DEADLINE);
    PrintWriter errWriter = new PrintWriter(err, true);
    ctrlC = new CancelOnInterrupt(client, watcher, new ProgressBar(errWriter, () -> 0L), errWriter);
  }

  @AfterEach
  void stop() {
    try {
      client.close();
    } finally {
      coordinator.close();
    }
  }

  @Test
  void ctrlCWhileSubmittingCancelsTheJobOnceTheCoordinatorHasIt() throws Exception {
    ctrlC.first();
    Job job = client.submit(NAP);
    ctrlC.submitted(job.getId());

    Job finished = watcher.await(job.getId(), (done, failed, running, total) -> {});

    assertEquals(JobState.CANCELLED, finished.getState(), finished::toString);
    assertEquals(CancelOnInterrupt.REASON, finished.getError());
    assertEquals(3, finished.getTasksNeverStarted(), finished::toString);
    assertEquals(
        "cancelling the job as soon as the coordinator has it; Ctrl-C again to stop waiting\n"
            + "cancelling job "
            + job.getId()
            + "; Ctrl-C again to stop waiting\n",
        err.toString().replace(System.lineSeparator(), "\n"));
  }

  @Test
  void ctrlCAfterTheSubmitCancelsAtOnce() throws Exception {
    Job job = client.submit(NAP);
    ctrlC.submitted(job.getId());

    ctrlC.first();

    Job finished = watcher.await(job.getId(), (done, failed, running, total) -> {});
    assertEquals(JobState.CANCELLED, finished.getState(), finished::toString);
  }

  @Test
  void aSecondCtrlCStopsWaitingAndSaysWhatBecomesOfTheJob() throws Exception {
    Job job = client.submit(NAP);
    ctrlC.submitted(job.getId());
    ctrlC.again(); // as if the first one's cancel had not got through

    long start = System.nanoTime();
    CliException e =
        assertThrows(
            CliException.class,
            () -> watcher.await(job.getId(), (done, failed, running, total) -> {}));

    assertEquals(ExitCodes.INTERRUPTED, e.exitCode());
    assertEquals(
        "stopped waiting; job "
            + job.getId()
            + " was not cancelled and keeps running; weft cancel "
            + job.getId()
            + " cancels it",
        e.getMessage());
    assertTrue(
        System.nanoTime() - start < Duration.ofSeconds(5).toNanos(), "detaching took too long");
    assertEquals(JobState.QUEUED, client.get(job.getId()).getState());
  }

  @Test
  void afterACancelTheSecondCtrlCSaysTheJobGoesOnCancelling() throws Exception {
    Job job = client.submit(NAP);
    ctrlC.submitted(job.getId());
    ctrlC.first();
    ctrlC.again();

    CliException e =
        assertThrows(
            CliException.class,
            () -> watcher.await(job.getId(), (done, failed, running, total) -> {}));

    assertEquals(ExitCodes.INTERRUPTED, e.exitCode());
    assertEquals(
        "stopped waiting; job "
            + job.getId()
            + " goes on cancelling; follow it with: weft status "
            + job.getId(),
        e.getMessage());
  }
}
