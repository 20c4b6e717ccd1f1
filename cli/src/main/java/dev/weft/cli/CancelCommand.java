package dev.weft.cli;

import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.Job;
import java.io.PrintWriter;
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
      "Cancel a job: its running tasks get SIGTERM, then SIGKILL after the job's grace period.",
      "Exits 0 when the job was cancelled, 1 when it had already finished.",
    },
    footerHeading = "%n",
    footer = {"Example:", "  weft cancel 3f2a9c"})
final class CancelCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Parameters(index = "0", paramLabel = "JOB", description = "The job's id.")
  private String id;

  @Option(
      names = "--reason",
      paramLabel = "TEXT",
      defaultValue = "cancelled with weft cancel",
      description = "Why, for the job's record (default: ${DEFAULT-VALUE}).")
  private String reason;

  @Option(names = "--json", description = "Print the job as one line of JSON.")
  private boolean json;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (CoordinatorClient coordinator = client.connect()) {
      CancelJobResponse response = coordinator.cancel(id, reason);
      Job job = response.getJob();
      if (json) {
        out.println(JsonOutput.of(job));
      } else if (response.getCancelled()) {
        out.printf(
            "cancelled job %s (%d/%d tasks had finished)%n",
            job.getId(), job.getTasksDone(), job.getTasksTotal());
      } else {
        out.printf(
            "job %s had already finished: %s%n", job.getId(), JobReport.state(job.getState()));
      }
      out.flush();
      return response.getCancelled() ? ExitCodes.OK : ExitCodes.JOB_FAILED;
    }
  }
}
