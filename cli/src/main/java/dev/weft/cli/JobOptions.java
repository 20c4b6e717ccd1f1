package dev.weft.cli;

import dev.weft.v1.Dependency;
import dev.weft.v1.ExitCodeRange;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.RetryPolicy;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The options every {@code weft submit KIND} shares, and what submitting (and waiting) does. */
final class JobOptions {
  @Spec(Spec.Target.MIXEE)
  private CommandSpec command;

  @Mixin private ClientOptions client;

  @Mixin private PlacementOptions placement;

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
      names = "--task-timeout",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "Stop a task attempt still running after this long (SIGTERM, --grace, SIGKILL, as a"
              + " cancel does) and count it failed; it is retried while attempts remain, without"
              + " --retry-on-error (default: no limit).")
  private Duration taskTimeout;

  @Option(
      names = "--retry-delay",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description = "Wait this long before running a failed task again (default: at once).")
  private Duration retryDelay;

  @Option(
      names = "--retry-backoff",
      paramLabel = "F",
      description =
          "Each further retry of a task waits F times longer than the one before, F >= 1;"
              + " needs --retry-delay (default: 1).")
  private Double retryBackoff;

  @Option(
      names = "--max-retry-delay",
      paramLabel = "DURATION",
      converter = DurationConverter.class,
      description =
          "The wait before a retry grows no longer than this; needs --retry-delay (default: 7d).")
  private Duration maxRetryDelay;

  @Option(
      names = "--no-retry-exit-codes",
      paramLabel = "CODES",
      split = ",",
      converter = ExitCodeRangeConverter.class,
      description =
          "Exit codes of exec tasks that fail a task at once, whatever attempts remain, e.g."
              + " 2,64-78. Naming them also retries failures with other exit codes, as"
              + " --retry-on-error does.")
  private List<ExitCodeRange> noRetryExitCodes = List.of();

  @Option(
      names = "--after",
      paramLabel = "JOB[:ok|:any]",
      split = ",",
      converter = DependencyConverter.class,
      description =
          "Wait (state WAITING) until job JOB has ended before any task runs: with :ok (the"
              + " default) run only if it succeeded and fail at once otherwise; with :any run"
              + " whatever its end. Repeatable; JOB must exist already.")
  private List<Dependency> after = List.of();

  @Option(
      names = "--on",
      split = ",",
      paramLabel = "WORKER",
      description =
          "Run only on these workers (ids as 'weft workers' lists them), e.g. --on w1,w2"
              + " (default: any worker).")
  private List<String> onWorkers = List.of();

  @Option(
      names = {"-w", "--wait"},
      description =
          "Wait for the job to finish and print its result; Ctrl-C cancels the job and waits"
              + " for its tasks to stop, a second Ctrl-C stops waiting.")
  private boolean wait;

  @Option(names = "--json", description = "Print the job as one line of JSON.")
  private boolean json;

  @Option(
      names = "--tag",
      description =
          "Exec jobs, with --wait: print what the tasks write while they run, each line with its"
              + " task's input (or index) and a TAB before it, as GNU parallel --tag does; stdout"
              + " lines to stdout, stderr lines to stderr. Then the job's result, as --wait prints"
              + " it. Shows no progress bar.")
  private boolean tag;

  /** Submits the job whose kind-specific parameters are set in {@code params}. */
  int submit(JobSpec.Builder params) throws InterruptedException {
    JobSpec spec = apply(params);
    if (tag) {
      checkTag(spec);
    }
    PrintWriter out = command.commandLine().getOut();
    PrintWriter err = command.commandLine().getErr();
    try (CoordinatorClient coordinator = client.connect()) {
      if (!wait) {
        Job job = coordinator.submit(spec);
        if (json) {
          out.println(JsonOutput.of(job));
          out.flush();
        } else {
          JobReport.submitted(out, job);
        }
        return ExitCodes.OK;
      }
      Job finished =
          tag ? submitAndTag(coordinator, spec, err) : submitAndWait(coordinator, spec, err);
      if (json) {
        out.println(JsonOutput.of(finished));
        out.flush();
      } else {
        JobReport.finished(out, finished);
      }
      return ExitCodes.forJob(finished.getState());
    }
  }

  /**
   * Submits the job and follows it until it has finished, in one RunJob call. Ctrl-C handling
   * starts before the submit, so a Ctrl-C during it still cancels the job (see {@link
   * CancelOnInterrupt}).
   */
  private Job submitAndWait(CoordinatorClient coordinator, JobSpec spec, PrintWriter err)
      throws InterruptedException {
    boolean interactive = ProgressBar.interactive();
    JobWatcher watcher = new JobWatcher(coordinator, JobWatcher.WATCH_DEADLINE);
    ProgressBar bar = new ProgressBar(err, System::nanoTime);
    CancelOnInterrupt ctrlC = new CancelOnInterrupt(coordinator, watcher, bar, err);
    try (StopSignals _ = StopSignals.handle(ctrlC::first, ctrlC::again, "INT")) {
      return watcher.run(
          spec,
          job -> {
            if (interactive) {
              err.printf(
                  "job %s submitted (%s, %d tasks); Ctrl-C cancels it%n",
                  job.getId(), job.getKind(), job.getTasksTotal());
              if (job.getState() == JobState.WAITING) {
                err.printf("job %s is WAITING %s%n", job.getId(), job.getWaitingReason());
              }
              err.flush();
            }
            ctrlC.submitted(job.getId());
          },
          interactive ? bar : (done, failed, running, total) -> {});
    } finally {
      bar.clear();
    }
  }

  /** --tag prints an exec job's output while waiting for it, and nothing else of the kind. */
  private void checkTag(JobSpec spec) {
    if (!wait) {
      throw CliException.usage(
          "--tag prints the tasks' output while waiting for the job: it needs --wait");
    }
    if (json) {
      throw CliException.usage(
          "--tag and --json both write to stdout: use --json alone and read the output with"
              + " 'weft logs' or 'weft results'");
    }
    if (!spec.hasExec()) {
      throw CliException.usage(
          "--tag prints what exec tasks write; a "
              + spec.getParamsCase().name().toLowerCase(java.util.Locale.ROOT)
              + " job's tasks keep no output (only exec jobs have --tag)");
    }
  }

  /**
   * As {@link #submitAndWait}, printing the tasks' output as they write it ({@link TaggedOutput})
   * instead of a progress bar, and returning once the output of the finished job is printed too.
   */
  private Job submitAndTag(CoordinatorClient coordinator, JobSpec spec, PrintWriter err)
      throws InterruptedException {
    boolean interactive = ProgressBar.interactive();
    JobWatcher watcher = new JobWatcher(coordinator, JobWatcher.WATCH_DEADLINE);
    ProgressBar bar = new ProgressBar(err, System::nanoTime); // never drawn: the output is
    CancelOnInterrupt ctrlC = new CancelOnInterrupt(coordinator, watcher, bar, err);
    AtomicReference<TaggedOutput> output = new AtomicReference<>();
    // A second Ctrl-C also stops the printing of a job that has ended meanwhile.
    Runnable again =
        () -> {
          ctrlC.again();
          TaggedOutput printing = output.get();
          if (printing != null) {
            printing.close();
          }
        };
    try (StopSignals _ = StopSignals.handle(ctrlC::first, again, "INT")) {
      Job finished =
          watcher.run(
              spec,
              job -> {
                if (interactive) {
                  err.printf(
                      "job %s submitted (%s, %d tasks); Ctrl-C cancels it%n",
                      job.getId(), job.getKind(), job.getTasksTotal());
                  err.flush();
                }
                ctrlC.submitted(job.getId());
                output.set(
                    TaggedOutput.start(
                        coordinator,
                        job.getId(),
                        spec.getExec(),
                        job.getTasksTotal(),
                        System.out,
                        System.err));
              },
              (done, failed, running, total) -> {});
      output.get().finish(finished);
      return finished;
    } finally {
      TaggedOutput printing = output.get();
      if (printing != null) {
        printing.close();
      }
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
    if (taskTimeout != null) {
      if (taskTimeout.isZero()) {
        throw CliException.usage("--task-timeout must be more than 0s");
      }
      spec.setTaskTimeout(proto(taskTimeout));
    }
    RetryPolicy retry = retryPolicy();
    if (retry != null) {
      spec.setRetry(retry);
    }
    placement.apply(spec);
    return spec.setRetryOnError(retryOnError).addAllWorkers(onWorkers).addAllAfter(after).build();
  }

  /** The retry options as a policy, or null when none was given. */
  private RetryPolicy retryPolicy() {
    if (retryDelay == null
        && retryBackoff == null
        && maxRetryDelay == null
        && noRetryExitCodes.isEmpty()) {
      return null;
    }
    RetryPolicy.Builder retry = RetryPolicy.newBuilder().addAllNoRetryExitCodes(noRetryExitCodes);
    boolean delays = retryDelay != null && !retryDelay.isZero();
    if (retryBackoff != null) {
      if (!Double.isFinite(retryBackoff) || retryBackoff < 1) {
        throw CliException.usage(
            "--retry-backoff must be a number of 1 or more, got " + retryBackoff);
      }
      if (!delays) {
        throw CliException.usage("--retry-backoff needs a --retry-delay of more than 0s");
      }
      retry.setBackoff(retryBackoff);
    }
    if (maxRetryDelay != null) {
      if (!delays) {
        throw CliException.usage("--max-retry-delay needs a --retry-delay of more than 0s");
      }
      if (maxRetryDelay.compareTo(retryDelay) < 0) {
        throw CliException.usage(
            "--max-retry-delay ("
                + DurationConverter.format(maxRetryDelay)
                + ") must be at least --retry-delay ("
                + DurationConverter.format(retryDelay)
                + ")");
      }
      retry.setMaxDelay(proto(maxRetryDelay));
    }
    if (retryDelay != null) {
      retry.setDelay(proto(retryDelay));
    }
    return retry.build();
  }

  private static com.google.protobuf.Duration proto(Duration d) {
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(d.getSeconds())
        .setNanos(d.getNano())
        .build();
  }
}
