package dev.weft.cli;

import com.google.protobuf.ByteString;
import dev.weft.v1.ExecParams;
import dev.weft.v1.HashParams;
import dev.weft.v1.JobSpec;
import dev.weft.v1.NoopParams;
import dev.weft.v1.PiParams;
import dev.weft.v1.PluginParams;
import dev.weft.v1.PrimesParams;
import dev.weft.v1.SleepParams;
import dev.weft.v1.SumParams;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code weft submit KIND ...}: one subcommand per job kind, all with the {@link JobOptions}. */
@Command(
    name = "submit",
    mixinStandardHelpOptions = true,
    description = "Submit a job; with --wait, follow it and print its result.",
    subcommands = {
      SubmitCommand.Sum.class,
      SubmitCommand.Primes.class,
      SubmitCommand.Pi.class,
      SubmitCommand.Sleep.class,
      SubmitCommand.Exec.class,
      SubmitCommand.Hash.class,
      SubmitCommand.Noop.class,
      SubmitCommand.Plugin.class,
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft submit sum --from 1 --to 1000000000 --tasks 100 --wait",
      "  weft submit primes --from 1 --to 50_000_000 --tasks 50 --wait --json",
      "  weft submit exec --input hosts.txt --wait -- ping -c 1 {}",
      "",
      "Run 'weft submit KIND --help' for the options of a kind.",
    })
final class SubmitCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Override
  public Integer call() {
    throw new ParameterException(
        spec.commandLine(),
        "missing the job kind: one of sum, primes, pi, sleep, exec, hash, noop, plugin");
  }

  /** The closed interval [A, B] of sum and primes. */
  static final class Range {
    @Option(names = "--from", required = true, paramLabel = "A", converter = NumberConverter.class)
    long from;

    @Option(names = "--to", required = true, paramLabel = "B", converter = NumberConverter.class)
    long to;
  }

  @Command(
      name = "sum",
      mixinStandardHelpOptions = true,
      description = "The sum of the integers in [A, B], exact for any longs.",
      footerHeading = "%n",
      footer = {"Example:", "  weft submit sum --from 1 --to 1_000_000_000 --tasks 100 --wait"})
  static final class Sum implements Callable<Integer> {
    @Mixin private Range range;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      return job.submit(
          JobSpec.newBuilder().setSum(SumParams.newBuilder().setFrom(range.from).setTo(range.to)));
    }
  }

  @Command(
      name = "primes",
      mixinStandardHelpOptions = true,
      description = "How many primes lie in [A, B] (a segmented sieve per task).",
      footerHeading = "%n",
      footer = {"Example:", "  weft submit primes --from 1 --to 50_000_000 --tasks 50 --wait"})
  static final class Primes implements Callable<Integer> {
    @Mixin private Range range;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      return job.submit(
          JobSpec.newBuilder()
              .setPrimes(PrimesParams.newBuilder().setFrom(range.from).setTo(range.to)));
    }
  }

  @Command(
      name = "pi",
      mixinStandardHelpOptions = true,
      description =
          "A Monte Carlo estimate of pi; the same seed and task count give the same result.",
      footerHeading = "%n",
      footer = {"Example:", "  weft submit pi --samples 100_000_000 --seed 42 --tasks 20 --wait"})
  static final class Pi implements Callable<Integer> {
    @Option(
        names = "--samples",
        required = true,
        paramLabel = "N",
        converter = NumberConverter.class,
        description = "Random points in all.")
    private long samples;

    @Option(
        names = "--seed",
        paramLabel = "S",
        converter = NumberConverter.class,
        defaultValue = "0",
        description = "Seed of the random points (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      return job.submit(
          JobSpec.newBuilder().setPi(PiParams.newBuilder().setSamples(samples).setSeed(seed)));
    }
  }

  @Command(
      name = "sleep",
      mixinStandardHelpOptions = true,
      description = "Tasks that sleep M ms each in the worker (to try cancellation and failures).",
      footerHeading = "%n",
      footer = {"Example:", "  weft submit sleep --ms 2000 --tasks 8 --wait"})
  static final class Sleep implements Callable<Integer> {
    @Option(names = "--ms", required = true, paramLabel = "M", converter = NumberConverter.class)
    private long ms;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      return job.submit(JobSpec.newBuilder().setSleep(SleepParams.newBuilder().setMs(ms)));
    }
  }

  @Command(
      name = "exec",
      mixinStandardHelpOptions = true,
      description = {
        "Run COMMAND once per input as a child process of a worker; {} in any word is replaced by"
            + " the input, as with xargs -I{}. A non-zero exit fails that task; its exit code and"
            + " the tails of its stdout and stderr come back.",
        "Without --input or --args, --tasks N tasks run with their index (0..N-1) as input.",
      },
      footerHeading = "%n",
      footer = {
        "Examples:",
        "  weft submit exec --args 1 2 3 4 --wait -- sh -c 'echo out-{}'",
        "  seq 100 | weft submit exec --input - --wait -- ./render.sh frame-{}.png",
      })
  static final class Exec implements Callable<Integer> {
    @ArgGroup(exclusive = true)
    private Inputs inputs;

    static final class Inputs {
      @Option(
          names = "--input",
          paramLabel = "FILE",
          description = "One input per line (blank lines are skipped); - reads standard input.")
      private String file;

      @Option(
          names = "--args",
          arity = "1..*",
          paramLabel = "ARG",
          description = "The inputs themselves, up to the -- before COMMAND.")
      private List<String> args;
    }

    @Option(
        names = "--workdir",
        paramLabel = "DIR",
        description = "Working directory of the task processes (default: the worker's).")
    private String workdir;

    @Option(
        names = {"-e", "--env"},
        paramLabel = "KEY=VALUE",
        description = "An environment variable for the task processes; repeatable.")
    private Map<String, String> env = Map.of();

    @Parameters(
        arity = "1..*",
        paramLabel = "COMMAND",
        description = "The command and its arguments, after --.")
    private List<String> command;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      ExecParams.Builder params = ExecParams.newBuilder().addAllCommand(command).putAllEnv(env);
      if (workdir != null) {
        params.setWorkdir(workdir);
      }
      if (inputs != null && inputs.args != null) {
        params.addAllInputs(inputs.args);
      } else if (inputs != null && inputs.file != null) {
        params.addAllInputs(readInputs(inputs.file));
      }
      return job.submit(JobSpec.newBuilder().setExec(params));
    }

    private static List<String> readInputs(String file) {
      try {
        List<String> lines =
            file.equals("-")
                ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
                    .lines()
                    .toList()
                : Files.readAllLines(Path.of(file), StandardCharsets.UTF_8);
        return lines.stream().filter(line -> !line.isBlank()).toList();
      } catch (NoSuchFileException e) {
        throw CliException.usage("--input " + file + ": no such file");
      } catch (CharacterCodingException e) {
        throw CliException.usage("--input " + file + ": not UTF-8 text");
      } catch (IOException e) {
        throw CliException.usage("--input " + file + ": cannot read it (" + e.getMessage() + ")");
      }
    }
  }

  @Command(
      name = "hash",
      mixinStandardHelpOptions = true,
      description = {
        "SHA-256 of each chunk of a file, and a digest over them. The coordinator reads the file"
            + " (so PATH is on the coordinator's host) and ships the chunks to the workers.",
      },
      footerHeading = "%n",
      footer = {"Example:", "  weft submit hash --file big.iso --chunk 4m --wait"})
  static final class Hash implements Callable<Integer> {
    @Option(names = "--file", required = true, paramLabel = "PATH", description = "The file.")
    private Path file;

    @Option(
        names = "--chunk",
        paramLabel = "SIZE",
        converter = SizeConverter.class,
        description = "Chunk size, e.g. 64k, 1m, 1MiB (default: the coordinator's).")
    private Long chunk;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      HashParams.Builder params =
          HashParams.newBuilder().setPath(file.toAbsolutePath().normalize().toString());
      if (chunk != null) {
        params.setChunkBytes(chunk);
      }
      return job.submit(JobSpec.newBuilder().setHash(params));
    }
  }

  @Command(
      name = "noop",
      mixinStandardHelpOptions = true,
      description = "Tasks that do nothing, to measure the scheduler and the transports.",
      footerHeading = "%n",
      footer = {"Example:", "  weft submit noop --tasks 100000 --payload 1k --wait"})
  static final class Noop implements Callable<Integer> {
    @Option(
        names = "--payload",
        paramLabel = "SIZE",
        converter = SizeConverter.class,
        defaultValue = "0",
        description = "Bytes each task carries to its worker, e.g. 512, 64k (default: 0).")
    private long payload;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      if (payload > Integer.MAX_VALUE) {
        throw CliException.usage("--payload must be below 2g, got " + payload + " bytes");
      }
      return job.submit(
          JobSpec.newBuilder().setNoop(NoopParams.newBuilder().setPayloadBytes((int) payload)));
    }
  }

  @Command(
      name = "plugin",
      mixinStandardHelpOptions = true,
      description =
          "A job of a kind that a plugin provides: a jar in the --plugins directory of the"
              + " coordinator and the workers.",
      footerHeading = "%n",
      footer = {
        "Example:",
        "  weft submit plugin wordcount -p path=/data/books.txt --tasks 8 --wait"
      })
  static final class Plugin implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME", description = "The plugin's kind name.")
    private String kind;

    @Option(
        names = {"-p", "--param"},
        paramLabel = "KEY=VALUE",
        description = "A parameter for the plugin; repeatable.")
    private Map<String, String> params = Map.of();

    @Option(
        names = "--data",
        paramLabel = "FILE",
        description = "A file whose bytes are handed to the plugin as well.")
    private Path data;

    @Mixin private JobOptions job;

    @Override
    public Integer call() throws InterruptedException {
      PluginParams.Builder plugin = PluginParams.newBuilder().setKind(kind).putAllArgs(params);
      if (data != null) {
        try {
          plugin.setData(ByteString.copyFrom(Files.readAllBytes(data)));
        } catch (NoSuchFileException e) {
          throw CliException.usage("--data " + data + ": no such file");
        } catch (IOException e) {
          throw CliException.usage("--data " + data + ": cannot read it (" + e.getMessage() + ")");
        }
      }
      return job.submit(JobSpec.newBuilder().setPlugin(plugin));
    }
  }
}
