package dev.weft.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The {@code weft} command. */
@Command(
    name = "weft",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "A distributed work coordinator: split a job into tasks and run them on workers.",
    subcommands = {
      CoordinatorCommand.class,
      WorkerCommand.class,
      SubmitCommand.class,
      StatusCommand.class,
      JobsCommand.class,
      WorkersCommand.class,
      CancelCommand.class,
      DemoCommand.class,
      BenchCommand.class,
      HelpCommand.class,
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft demo                          a coordinator, 2 workers, 2 checked jobs",
      "  weft coordinator                   serve on 127.0.0.1:7070",
      "  weft worker --join 127.0.0.1:7070  a worker with one slot per core",
      "  weft submit sum --from 1 --to 1000000000 --tasks 100 --wait",
      "  weft submit exec --args a b c -- echo {}",
      "  weft jobs --state running",
      "",
      "Client commands reach the coordinator at --coordinator HOST:PORT, else $WEFT_COORDINATOR,"
          + " else 127.0.0.1:7070.",
      "",
      "Exit status: 0 success; 1 the job failed or was cancelled; 2 usage error (bad option,"
          + " request or job id); 3 the coordinator cannot be reached; 70 internal error;"
          + " 130 detached from a job after Ctrl-C.",
    })
public final class Main implements Callable<Integer> {
  @Spec private CommandSpec spec;

  public static void main(String[] args) {
    System.exit(newCommandLine().execute(args));
  }

  /** The command line with weft's error handling; tests run commands through this too. */
  static CommandLine newCommandLine() {
    ErrorHandler errors = new ErrorHandler();
    return new CommandLine(new Main())
        .setParameterExceptionHandler(errors)
        .setExecutionExceptionHandler(errors)
        .setCaseInsensitiveEnumValuesAllowed(true)
        .setUsageHelpAutoWidth(true);
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }
}
