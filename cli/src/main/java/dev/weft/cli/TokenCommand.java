package dev.weft.cli;

import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.security.JoinTokenFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code weft token show|rotate}: the join token of the coordinator that uses a data dir. */
@Command(
    name = "token",
    mixinStandardHelpOptions = true,
    description = {
      "Show or rotate the join token of a secure coordinator (one beyond loopback, or started with"
          + " --tls on), on its host. The token pins the coordinator's certificate and carries a"
          + " secret that workers and clients present.",
    },
    subcommands = {TokenCommand.Show.class, TokenCommand.Rotate.class},
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft token show",
      "  export WEFT_TOKEN=$(weft token show --quiet --data-dir /var/lib/weft)",
      "  weft token rotate --data-dir /var/lib/weft",
    })
final class TokenCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return ExitCodes.USAGE;
  }

  /** {@code --data-dir}, as the coordinator has it. */
  static final class DataDir {
    @Option(
        names = "--data-dir",
        paramLabel = "DIR",
        description =
            "The coordinator's data directory (default: $XDG_DATA_HOME/weft, else"
                + " ~/.local/share/weft).")
    Path dataDir;

    Path resolve() {
      return dataDir != null ? dataDir : CoordinatorConfig.defaultDataDir();
    }
  }

  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      description = "Print the command that joins a worker, with the current token.")
  static final class Show implements Callable<Integer> {
    @Spec private CommandSpec spec;
    @Mixin private DataDir dataDir;

    @Option(
        names = {"-q", "--quiet"},
        description = "Print only the token.")
    private boolean quiet;

    @Override
    public Integer call() {
      JoinTokenFiles.Join join = read(() -> JoinTokenFiles.show(dataDir.resolve()));
      PrintWriter out = spec.commandLine().getOut();
      if (quiet) {
        out.println(
            join.token()
                .orElseThrow(
                    () ->
                        CliException.usage(
                            "the coordinator at "
                                + join.address()
                                + " uses no join token (--no-token): workers and clients need"
                                + " client certificates")));
      } else {
        print(out, join);
      }
      out.flush();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "rotate",
      mixinStandardHelpOptions = true,
      description = {
        "Replace the token's secret. A running coordinator with this data directory accepts only"
            + " the new token from its next check on; workers already attached stay attached,"
            + " but need the new token to attach again, unless --detach-workers revokes the old"
            + " token for them too.",
      })
  static final class Rotate implements Callable<Integer> {
    @Spec private CommandSpec spec;
    @Mixin private DataDir dataDir;

    @Option(
        names = "--detach-workers",
        description =
            "Also detach the workers attached with the old token (within one heartbeat, 2 s by"
                + " default); refused, they stop with exit status 77 until started with the new"
                + " token. For a token that leaked.")
    private boolean detachWorkers;

    @Override
    public Integer call() {
      Path dir = dataDir.resolve();
      JoinTokenFiles.Join join = read(() -> JoinTokenFiles.rotate(dir, detachWorkers));
      PrintWriter out = spec.commandLine().getOut();
      out.println(
          "rotated the join token in "
              + dir
              + "; the old token no longer joins"
              + (detachWorkers ? ", and workers attached with it are detached" : ""));
      print(out, join);
      out.flush();
      return ExitCodes.OK;
    }
  }

  private interface Read {
    JoinTokenFiles.Join read() throws IOException;
  }

  private static JoinTokenFiles.Join read(Read action) {
    try {
      return action.read();
    } catch (IOException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  private static void print(PrintWriter out, JoinTokenFiles.Join join) {
    out.println("join a worker:  " + join.workerCommand());
    join.token()
        .ifPresent(
            t ->
                out.println(
                    "clients:        export WEFT_COORDINATOR="
                        + join.address()
                        + " WEFT_TOKEN="
                        + t));
  }
}
