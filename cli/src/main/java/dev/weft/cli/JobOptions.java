package dev.weft.cli;

import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.time.Duration;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The options every {@code weft submit KIND} shares, and what submitting (and waiting) does. */
final class JobOptions {
  @Spec(Spec.Target.MIXEE)
  private CommandSpec command;

  @Mixin private ClientOptions client;

  @Option(
      names = "--tasks",
      paramLabel = "N",
      description = "Split the job into N tasks (default: the kind's own choice).")
  private Integer tasks;

  @Option(
      names = "--task-size",
      paramLabel = "N",
      converter = NumberConverter.class,
      description =
          "Split so each task gets N elements (numbers, samples or bytes); not with --tasks.")
  private Long taskSize;

  @Option(
      names = "--max-attempts",
      paramLabel = "N",
      description = "Attempts per task before the job fails (default: 3).")
  private Integer maxAttempts;

  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description = "Fail the job if it runs longer, e.g. 30s, 5m, 1h30m (default: no limit).")
  private Duration timeout;

  @Option(
      names = "--grace",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description = "Time a cancelled task gets between SIGTERM and SIGKILL (default: 10s).")
  private Duration grace;

  @Option(names = "--name", paramLabel = "NAME", description = "A label shown by 'weft jobs'.")
  private String name;

  @Option(
      names = "--retry-on-error",
      description =
          "Also retry tasks that fail on their own (a non-zero exit), not only lost ones.")
  private boolean retryOnError;

  @Option(
      names = {"-w", "--wait"},
      description =
          "Wait for the job to finish and print its result; Ctrl-C cancels the job, a second"
              + " Ctrl-C stops waiting.")
  private boolean wait;

  @Option(names = "--json", description = "Print the job as one line of JSON.")
  private boolean json;

  /** Submits the job whose kind-specific parameters are set in {@code params}. */
  int submit(JobSpec.Builder params) throws InterruptedException {
    JobSpec spec = apply(params);
    PrintWriter out = command.commandLine().getOut();
    PrintWriter err = command.commandLine().getErr();
    try (CoordinatorClient coordinator = client.connect()) {
      Job job = coordinator.submit(spec);
      if (!wait) {
        if (json) {
          out.println(JsonOutput.of(job));
          out.flush();
        } else {
          JobReport.submitted(out, job);
        }
        return ExitCodes.OK;
      }
      Job finished = awaitFinished(coordinator, job, err);
      if (json) {
        out.println(JsonOutput.of(finished));
        out.flush();
      } else {
        JobReport.finished(out, finished);
      }
      return ExitCodes.forJob(finished.getState());
    }
  }

  private Job awaitFinished(CoordinatorClient coordinator, Job job, PrintWriter err)
      throws InterruptedException {
    String id = job.getId();
    boolean interactive = ProgressBar.interactive();
    if (interactive) {
      err.printf(
          "job %s submitted (%s, %d tasks); Ctrl-C cancels it%n",
          id, job.getKind(), job.getTasksTotal());
      err.flush();
    }
    JobWatcher watcher = new JobWatcher(coordinator, JobWatcher.WATCH_DEADLINE);
    ProgressBar bar = new ProgressBar(err, System::nanoTime);
    Runnable cancel =
        () -> {
          bar.clear();
          err.printf("cancelling job %s; press Ctrl-C again to stop waiting%n", id);
          err.flush();
          try {
            coordinator.cancel(id, "interrupted by the user of weft submit --wait");
          } catch (CliException | StatusRuntimeException e) {
            err.println("weft: could not cancel job " + id + ": " + e.getMessage());
            err.flush();
          }
        };
    try (StopSignals _ = StopSignals.handle(cancel, watcher::detach, "INT")) {
      return watcher.await(id, interactive ? bar : (done, failed, running, total) -> {});
    } finally {
      bar.clear();
    }
  }

  private JobSpec apply(JobSpec.Builder spec) {
    if (tasks != null && taskSize != null) {
      throw CliException.usage("use either --tasks or --task-size, not both");
    }
    if (tasks != null) {
      if (tasks < 1) {
        throw CliException.usage("--tasks must be at least 1, got " + tasks);
      }
      spec.setTasks(tasks);
    }
    if (taskSize != null) {
      if (taskSize < 1) {
        throw CliException.usage("--task-size must be at least 1, got " + taskSize);
      }
      spec.setTaskSize(taskSize);
    }
    if (maxAttempts != null) {
      if (maxAttempts < 1) {
        throw CliException.usage("--max-attempts must be at least 1, got " + maxAttempts);
      }
      spec.setMaxAttempts(maxAttempts);
    }
    if (timeout != null) {
      spec.setTimeout(proto(timeout));
    }
    if (grace != null) {
      spec.setGrace(proto(grace));
    }
    if (name != null) {
      spec.setName(name);
    }
    return spec.setRetryOnError(retryOnError).build();
  }

  private static com.google.protobuf.Duration proto(Duration d) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(d.getSeconds())
        .setNanos(d.getNano())
        .build();
  }
}
