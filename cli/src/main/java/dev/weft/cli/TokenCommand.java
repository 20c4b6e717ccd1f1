package dev.weft.cli;

import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.security.Caller;
import dev.weft.coordinator.security.ClientTokens;
import dev.weft.coordinator.security.JoinTokenFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code weft token show|rotate}: the join token of the coordinator that uses a data dir. */
@Command(
    name = "token",
    mixinStandardHelpOptions = true,
    description = {
      "Manage a coordinator's tokens, on its host. Workers join with the join token (show,"
          + " rotate); clients use client tokens, each with a name and a role (create, list,"
          + " revoke). Every token pins the coordinator's certificate and carries a secret.",
    },
    subcommands = {
      TokenCommand.Show.class,
      TokenCommand.Rotate.class,
      TokenCommand.Create.class,
      TokenCommand.ListTokens.class,
      TokenCommand.Revoke.class
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft token show",
      "  export WEFT_TOKEN=$(weft token show --quiet --data-dir /var/lib/weft)",
      "  weft token rotate --data-dir /var/lib/weft",
      "  weft token create ci --role submit --allow-exec",
      "  weft token list",
      "  weft token revoke ci",
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
      JoinTokenFiles.Join join = change(() -> JoinTokenFiles.show(dataDir.resolve()));
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
      JoinTokenFiles.Join join = change(() -> JoinTokenFiles.rotate(dir, detachWorkers));
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

  @Command(
      name = "create",
      mixinStandardHelpOptions = true,
      description = {
        "Make a client token and print it, once: only its hash is kept. Roles: read (list and"
            + " watch jobs and workers), submit (also submit, and cancel its own jobs), admin"
            + " (everything: any job, drain and resume workers). Jobs record the token's name as"
            + " their owner.",
      })
  static final class Create implements Callable<Integer> {
    @Spec private CommandSpec spec;
    @Mixin private DataDir dataDir;

    @Parameters(
        index = "0",
        paramLabel = "NAME",
        description = "The client's name: a-z, 0-9, . _ -")
    private String name;

    @Option(
        names = "--role",
        paramLabel = "ROLE",
        defaultValue = "submit",
        description = "read, submit or admin (default: ${DEFAULT-VALUE}).")
    private String role;

    @Option(
        names = "--allow-exec",
        description =
            "Also allow exec and plugin jobs, which run arbitrary commands as the workers' user.")
    private boolean allowExec;

    @Override
    public Integer call() {
      Caller.Role parsed;
      try {
        parsed = Caller.Role.parse(role);
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--role: " + e.getMessage());
      }
      String token = change(() -> ClientTokens.create(dataDir.resolve(), name, parsed, allowExec));
      PrintWriter out = spec.commandLine().getOut();
      out.println(token);
      out.flush();
      spec.commandLine()
          .getErr()
          .println(
              "client token '"
                  + name
                  + "' ("
                  + parsed.wireName()
                  + (allowExec ? ", exec allowed" : "")
                  + "): it is shown only now; pass it with WEFT_TOKEN");
      spec.commandLine().getErr().flush();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "List the client tokens: name, role, exec grant, when made.")
  static final class ListTokens implements Callable<Integer> {
    @Spec private CommandSpec spec;
    @Mixin private DataDir dataDir;

    @Override
    public Integer call() {
      java.util.List<ClientTokens.Client> clients =
          change(() -> ClientTokens.list(dataDir.resolve()));
      Table table = new Table("NAME", "ROLE", "EXEC", "CREATED");
      for (ClientTokens.Client client : clients) {
        table.row(
            client.name(),
            client.role().wireName(),
            client.exec() ? "yes" : "no",
            java.time.Instant.ofEpochMilli(client.createdMs()).toString());
      }
      PrintWriter out = spec.commandLine().getOut();
      table.print(out);
      out.flush();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "revoke",
      mixinStandardHelpOptions = true,
      description = "Revoke a client token: a running coordinator refuses it from its next call.")
  static final class Revoke implements Callable<Integer> {
    @Spec private CommandSpec spec;
    @Mixin private DataDir dataDir;

    @Parameters(index = "0", paramLabel = "NAME", description = "The client token's name.")
    private String name;

    @Override
    public Integer call() {
      change(
          () -> {
            ClientTokens.revoke(dataDir.resolve(), name);
            return null;
          });
      PrintWriter out = spec.commandLine().getOut();
      out.println("revoked client token '" + name + "'");
      out.flush();
      return ExitCodes.OK;
    }
  }

  private interface Change<T> {
    T run() throws IOException;
  }

  /** Reads or changes the token files; what is wrong (a file, the request) is a usage error. */
  private static <T> T change(Change<T> action) {
    try {
      return action.run();
    } catch (IOException | IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  private static void print(PrintWriter out, JoinTokenFiles.Join join) {
    out.println("join a worker:  " + join.workerCommand());
    out.println(
        "clients:        weft token create NAME --role read|submit|admin [--allow-exec]; the"
            + " join token is for workers only");
  }
}
