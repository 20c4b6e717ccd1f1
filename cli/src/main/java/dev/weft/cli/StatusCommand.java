package dev.weft.cli;

import dev.weft.v1.Job;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code weft status JOB}. */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = {
      "Show a job: state, progress, result, what failed, and for a cancelled or timed-out job"
          + " how each running task stopped.",
      "Exits 1 when the job failed or was cancelled (also while it is CANCELLING), 0 otherwise.",
    },
    footerHeading = "%n",
    footer = {"Examples:", "  weft status 3f2a9c", "  weft status 3f2a9c --json | jq .result"})
final class StatusCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Parameters(index = "0", paramLabel = "JOB", description = "The job's id.")
  private String id;

  @Option(names = "--json", description = "Print the job as one line of JSON.")
  private boolean json;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (CoordinatorClient coordinator = client.connect()) {
      Job job = coordinator.get(id);
      if (json) {
        out.println(JsonOutput.of(job));
        out.flush();
      } else {
        JobReport.details(out, job, Instant.now());
      }
      return ExitCodes.forJob(job.getState());
    }
  }
}
