package dev.weft.cli;

import dev.weft.v1.WorkerInfo;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code weft workers}, and {@code weft workers drain|resume WORKER}. */
@Command(
    name = "workers",
    mixinStandardHelpOptions = true,
    description =
        "List the workers attached to the coordinator: their slots, their resources (CPU, MEM,"
            + " GPU and the operator's own, as free/total; - when the coordinator does not say)"
            + " and their labels.",
    subcommands = {WorkersCommand.Drain.class, WorkersCommand.Resume.class},
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft workers",
      "  weft workers --json | jq '.[].transport'",
      "  weft workers drain node-b-1 --reason 'disk swap'",
      "  weft workers resume node-b-1"
    })
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

  /** The worker a subcommand acts on, how to print it, and the coordinator to ask. */
  static final class Target {
    @Parameters(paramLabel = "WORKER", description = "The worker's id, as `weft workers` lists it.")
    String id;

    @Option(names = "--json", description = "Print the worker as a JSON array of one.")
    boolean json;

    @Mixin ClientOptions client;
  }

  private static Integer print(CommandSpec spec, boolean json, WorkerInfo worker) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(JsonOutput.array(List.of(worker)));
    } else {
      JobReport.workers(out, List.of(worker));
    }
    out.flush();
    return ExitCodes.OK;
  }

  @Command(
      name = "drain",
      mixinStandardHelpOptions = true,
      description = {
        "Take a worker out of service: it gets no new tasks, finishes the ones it has and stays"
            + " attached (STATE drained) until `weft workers resume`. It stays drained if it"
            + " attaches again; a coordinator restart forgets drains."
      })
  static final class Drain implements Callable<Integer> {
    @Spec private CommandSpec spec;
    @Mixin private Target target;

    @Option(
        names = "--reason",
        paramLabel = "TEXT",
        description = "Why, shown with the worker (up to 1000 characters).")
    private String reason = "";

    @Override
    public Integer call() {
      try (CoordinatorClient coordinator = target.client.connect()) {
        return print(spec, target.json, coordinator.drainWorker(target.id, reason));
      }
    }
  }

  @Command(
      name = "resume",
      mixinStandardHelpOptions = true,
      description = "Put a drained worker back in service.")
  static final class Resume implements Callable<Integer> {
    @Spec private CommandSpec spec;
    @Mixin private Target target;

    @Override
    public Integer call() {
      try (CoordinatorClient coordinator = target.client.connect()) {
        return print(spec, target.json, coordinator.resumeWorker(target.id));
      }
    }
  }
}
