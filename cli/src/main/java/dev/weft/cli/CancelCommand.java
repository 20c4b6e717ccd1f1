package dev.weft.cli;

import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code weft cancel JOB}. */
@Command(
    name = "cancel",
    mixinStandardHelpOptions = true,
    description = {
      "Cancel a job: its queued tasks never start and its running tasks are told to stop (an exec"
          + " task's processes get SIGTERM, then SIGKILL after the grace period). Waits until"
          + " every running task has stopped and says how each one did.",
      "Exits 0 when the job is cancelled or had already finished (nothing to cancel), 2 for an"
          + " unknown job, 3 when the coordinator cannot be reached, 130 when Ctrl-C stopped the"
          + " wait (the job goes on cancelling).",
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft cancel j2r65gt3j8a",
      "  weft cancel j2r65gt3j8a --grace 2s --reason 'wrong input'",
      "  weft cancel j2r65gt3j8a --no-wait --json",
    })
final class CancelCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Parameters(index = "0", paramLabel = "JOB", description = "The job's id.")
  private String id;

  @Option(
      names = "--grace",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "Time each running task gets between SIGTERM and SIGKILL, for this cancel (0s..1h;"
              + " default: the job's own, 10s unless it was submitted with --grace).")
  private Duration grace;

  @Option(
      names = "--reason",
      paramLabel = "TEXT",
      defaultValue = "cancelled with weft cancel",
      description = "Why, for the job's record (default: ${DEFAULT-VALUE}).")
  private String reason;

  @Option(
      names = "--no-wait",
      description = "Return once the coordinator has accepted the cancel; do not wait for it.")
  private boolean noWait;

  @Option(names = "--json", description = "Print the job as one line of JSON.")
  private boolean json;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (CoordinatorClient coordinator = client.connect()) {
      CancelJobResponse response =
          grace == null ? coordinator.cancel(id, reason) : coordinator.cancel(id, reason, grace);
      Job job = response.getJob();
      boolean nothingToDo = !response.getCancelled() && JobWatcher.isFinal(job.getState());
      if (!nothingToDo && !noWait && !JobWatcher.isFinal(job.getState())) {
        job = awaitStopped(coordinator, job, err);
      }
      if (json) {
        out.println(JsonOutput.of(job));
      } else if (nothingToDo) {
        out.printf(
            "job %s had already finished (%s); nothing to cancel%n",
            job.getId(), JobReport.state(job.getState()));
      } else {
        report(out, job);
      }
      out.flush();
      return ExitCodes.OK;
    }
  }

  /** Follows a CANCELLING job until its running tasks have stopped; Ctrl-C stops waiting. */
  private static Job awaitStopped(CoordinatorClient coordinator, Job job, PrintWriter err)
      throws InterruptedException {
    String id = job.getId();
    if (ProgressBar.interactive()) {
      err.printf("cancelling job %s: %s (Ctrl-C stops waiting)%n", id, StopReport.summary(job));
      err.flush();
    }
    JobWatcher watcher = new JobWatcher(coordinator, JobWatcher.WATCH_DEADLINE);
    Runnable detach =
        () ->
            watcher.detach(
                () ->
                    "stopped waiting; job "
                        + id
                        + " goes on cancelling; follow it with: weft status "
                        + id);
    try (StopSignals _ = StopSignals.handle(detach, detach, "INT")) {
      return watcher.await(id, (done, failed, running, total) -> {});
    }
  }

  /** "cancelled job X (4/12 tasks had finished)" and how its running tasks stopped. */
  private static void report(PrintWriter out, Job job) {
    String progress = job.getTasksDone() + "/" + job.getTasksTotal() + " tasks had finished";
    if (job.getState() == JobState.CANCELLING) {
      out.printf("cancelling job %s (%s)%n", job.getId(), progress);
    } else if (job.getState() == JobState.CANCELLED) {
      out.printf("cancelled job %s (%s)%n", job.getId(), progress);
    } else {
      // A timeout or the job's own end overtook the cancel.
      out.printf(
          "job %s ended %s (%s)%s%n",
          job.getId(),
          JobReport.state(job.getState()),
          progress,
          job.getError().isEmpty() ? "" : ": " + job.getError());
    }
    String stops = StopReport.summary(job);
    if (!stops.isEmpty()) {
      out.println(stops);
    }
    if (job.getState() == JobState.CANCELLING) {
      out.printf("follow it with: weft status %s%n", job.getId());
    }
  }
}
