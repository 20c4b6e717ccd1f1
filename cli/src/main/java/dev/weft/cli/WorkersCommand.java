package dev.weft.cli;

import dev.weft.v1.WorkerInfo;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code weft workers}. */
@Command(
    name = "workers",
    mixinStandardHelpOptions = true,
    description = "List the workers attached to the coordinator.",
    footerHeading = "%n",
    footer = {"Examples:", "  weft workers", "  weft workers --json | jq '.[].transport'"})
final class WorkersCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Option(names = "--json", description = "Print a JSON array of workers on one line.")
  private boolean json;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (CoordinatorClient coordinator = client.connect()) {
      List<WorkerInfo> workers = coordinator.workers();
      if (json) {
        out.println(JsonOutput.array(workers));
        out.flush();
      } else {
        JobReport.workers(out, workers);
      }
      return ExitCodes.OK;
    }
  }
}
