package dev.weft.cli;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
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
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft jobs",
      "  weft jobs --state running,queued,cancelling",
      "  weft jobs --json"
    })
final class JobsCommand implements Callable<Integer> {
  /** The states a user may filter on (the wire enum also has an "unspecified" zero value). */
  enum StateFilter {
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

  @Option(names = "--json", description = "Print a JSON array of jobs on one line.")
  private boolean json;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() {
    if (limit < 1) {
      throw CliException.usage("--limit must be at least 1, got " + limit);
    }
    Set<JobState> wanted = EnumSet.noneOf(JobState.class);
    states.forEach(s -> wanted.add(s.state));
    PrintWriter out = spec.commandLine().getOut();
    try (CoordinatorClient coordinator = client.connect()) {
      List<Job> jobs = coordinator.list(wanted, limit);
      if (json) {
        out.println(JsonOutput.array(jobs));
        out.flush();
      } else {
        JobReport.jobs(out, jobs, Instant.now());
      }
      return ExitCodes.OK;
    }
  }
}
