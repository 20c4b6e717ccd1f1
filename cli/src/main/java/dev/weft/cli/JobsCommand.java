package dev.weft.cli;

import dev.weft.v1.JobState;
import dev.weft.v1.ListJobsResponse;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code weft jobs}. */
@Command(
    name = "jobs",
    mixinStandardHelpOptions = true,
    description = "List jobs, newest first.",
    subcommands = {JobsCommand.SetPriority.class},
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft jobs",
      "  weft jobs --state running,queued,waiting,cancelling",
      "  weft jobs --json",
      "  weft jobs --full --limit 10 --json",
      "  weft jobs set-priority 7f3a2c 10"
    })
final class JobsCommand implements Callable<Integer> {
  // The coordinator's bounds on ListJobs' limit (JobEndpoint): whole jobs are bulkier.
  static final int SUMMARY_LIMIT = 10_000;
  static final int FULL_LIMIT = 1_000;

  /** The states a user may filter on (the wire enum also has an "unspecified" zero value). */
  enum StateFilter {
    WAITING(JobState.WAITING),
    QUEUED(JobState.QUEUED),
    RUNNING(JobState.RUNNING),
    CANCELLING(JobState.CANCELLING),
    SUCCEEDED(JobState.SUCCEEDED),
    FAILED(JobState.FAILED),
    CANCELLED(JobState.CANCELLED);

    private final JobState state;

    StateFilter(JobState state) {
      this.state = state;
    }
  }

  @Spec private CommandSpec spec;

  @Option(
      names = "--state",
      paramLabel = "STATE",
      split = ",",
      description = "Only jobs in these states: ${COMPLETION-CANDIDATES} (case does not matter).")
  private List<StateFilter> states = List.of();

  @Option(
      names = "--limit",
      paramLabel = "N",
      defaultValue = "100",
      description = "At most N jobs (default: ${DEFAULT-VALUE}).")
  private int limit;

  @Option(
      names = "--json",
      description =
          "Print the listing as JSON on one line: {\"jobs\":[...],\"view\":...}, the view saying"
              + " whether the jobs are summaries (JOB_VIEW_SUMMARY) or whole (JOB_VIEW_FULL).")
  private boolean json;

  @Option(
      names = "--full",
      description =
          "Whole jobs (specs with their inputs, per-task failures and results), as `weft status`"
              + " shows one; at most "
              + FULL_LIMIT
              + " (default: summaries).")
  private boolean full;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() {
    int max = full ? FULL_LIMIT : SUMMARY_LIMIT;
    if (limit < 1 || limit > max) {
      throw CliException.usage(
          "--limit must be 1.." + max + (full ? " with --full" : "") + ", got " + limit);
    }
    Set<JobState> wanted = EnumSet.noneOf(JobState.class);
    states.forEach(s -> wanted.add(s.state));
    PrintWriter out = spec.commandLine().getOut();
    try (CoordinatorClient coordinator = client.connect()) {
      ListJobsResponse listed = coordinator.list(wanted, limit, full);
      if (json) {
        out.println(JsonOutput.of(listed));
        out.flush();
      } else {
        JobReport.jobs(out, listed.getJobsList(), Instant.now());
      }
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "set-priority",
      mixinStandardHelpOptions = true,
      description = {
        "Move a waiting, queued or running job to another priority class (admins only): its"
            + " pending tasks are served in the new class from now on; with --preempt-after on"
            + " the coordinator, a raised job may preempt tasks of lower classes."
      })
  static final class SetPriority implements Callable<Integer> {
    @Spec private CommandSpec spec;

    @picocli.CommandLine.Parameters(index = "0", paramLabel = "JOB", description = "The job's id.")
    private String id;

    @picocli.CommandLine.Parameters(
        index = "1",
        paramLabel = "N",
        description = "The new priority class (higher is served first; submit's default is 0).")
    private int priority;

    @Option(names = "--json", description = "Print the job as one line of JSON.")
    private boolean json;

    @Mixin private ClientOptions client;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try (CoordinatorClient coordinator = client.connect()) {
        dev.weft.v1.Job job = coordinator.setPriority(id, priority);
        if (json) {
          out.println(JsonOutput.of(job));
        } else {
          out.printf(
              "job %s is now in priority class %d%n", job.getId(), job.getSpec().getPriority());
        }
        out.flush();
        return ExitCodes.OK;
      }
    }
  }
}
