package dev.weft.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
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
      LogsCommand.class,
      ResultsCommand.class,
      TokenCommand.class,
      DashboardCommand.class,
      DemoCommand.class,
      BenchCommand.class,
      BenchClientCommand.class,
      SwarmCommand.class,
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
      "  weft token show                    the join command of a secure coordinator",
      "",
      "Client commands reach the coordinator at --coordinator HOST:PORT, else $WEFT_COORDINATOR,"
          + " else 127.0.0.1:7070; a coordinator beyond loopback also wants its join token"
          + " (--token, else $WEFT_TOKEN).",
      "",
      "Option defaults come from --config FILE, else $WEFT_CONFIG, else a distribution's"
          + " conf/weft.properties, else ~/.config/weft/weft.properties if it exists; keys are"
          + " weft.COMMAND.OPTION (weft.coordinator.listen) or OPTION for every command that has it.",
      "",
      "Exit status: 0 success; 1 the job failed or was cancelled; 2 usage error (bad option,"
          + " request or job id); 3 the coordinator cannot be reached; 70 internal error;"
          + " 77 refused (join token, certificate); 130 detached from a job after Ctrl-C.",
    })
public final class Main implements Callable<Integer> {
  @Spec private CommandSpec spec;

  // Read by ConfigDefaults while the arguments are parsed; inherited, so any command takes it.
  @Option(
      names = ConfigDefaults.OPTION,
      paramLabel = "FILE",
      scope = ScopeType.INHERIT,
      description =
          "Read option defaults from this properties file (default: $WEFT_CONFIG, else"
              + " conf/weft.properties of a distribution, else ~/.config/weft/weft.properties if"
              + " present); options given here win.")
  private Path config;

  public static void main(String[] args) {
    System.exit(newCommandLine().execute(args));
  }

  /** The command line with weft's error handling; tests run commands through this too. */
  static CommandLine newCommandLine() {
    return newCommandLine(ConfigDefaults.fromEnvironment());
  }

  /** The same, with option defaults from {@code config}. */
  static CommandLine newCommandLine(ConfigDefaults config) {
    ErrorHandler errors = new ErrorHandler();
    return config.installOn(
        new CommandLine(new Main())
            .setParameterExceptionHandler(errors)
            .setExecutionExceptionHandler(errors)
            .setCaseInsensitiveEnumValuesAllowed(true)
            .setUsageHelpAutoWidth(true));
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }
}
