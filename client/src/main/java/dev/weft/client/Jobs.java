package dev.weft.client;

import com.google.protobuf.ByteString;
import dev.weft.v1.ExecParams;
import dev.weft.v1.HashParams;
import dev.weft.v1.NoopParams;
import dev.weft.v1.PiParams;
import dev.weft.v1.PluginParams;
import dev.weft.v1.PrimesParams;
import dev.weft.v1.SleepParams;
import dev.weft.v1.SumParams;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Job builders, one factory per kind: {@code Jobs.sum(1, 1_000_000_000).tasks(100)}, {@code
 * Jobs.exec("sh", "-c", "echo {}").inputs("a", "b")}. Every builder has the common options of
 * {@link JobBuilder}; exec, hash and plugin jobs have options of their own.
 */
public final class Jobs {
  private Jobs() {}

  /** The exact sum of the integers in [{@code from}, {@code to}]. */
  public static Simple sum(long from, long to) {
    Simple job = new Simple();
    job.spec.setSum(SumParams.newBuilder().setFrom(from).setTo(to));
    return job;
  }

  /** How many primes lie in [{@code from}, {@code to}]. */
  public static Simple primes(long from, long to) {
    Simple job = new Simple();
    job.spec.setPrimes(PrimesParams.newBuilder().setFrom(from).setTo(to));
    return job;
  }

  /**
   * A Monte Carlo estimate of pi from {@code samples} points, the same for a seed and task count.
   */
  public static Simple pi(long samples, long seed) {
    Simple job = new Simple();
    job.spec.setPi(PiParams.newBuilder().setSamples(samples).setSeed(seed));
    return job;
  }

  /** Each task sleeps {@code ms} milliseconds in its worker's JVM. */
  public static Simple sleep(long ms) {
    Simple job = new Simple();
    job.spec.setSleep(SleepParams.newBuilder().setMs(ms));
    return job;
  }

  /** Tasks that do nothing but carry {@code payloadBytes} each: for measuring. */
  public static Simple noop(int payloadBytes) {
    Simple job = new Simple();
    job.spec.setNoop(NoopParams.newBuilder().setPayloadBytes(payloadBytes));
    return job;
  }

  /**
   * Each task runs {@code command} as a child process on its worker, {@code {}} in any word
   * replaced by the task's input (its index, or one of {@link Exec#inputs}). Needs a token with the
   * exec grant.
   */
  public static Exec exec(String... command) {
    if (command.length == 0) {
      throw new IllegalArgumentException("exec needs a command");
    }
    Exec job = new Exec();
    job.params.addAllCommand(List.of(command));
    return job;
  }

  /** The SHA-256 of each chunk of {@code path}, a file the coordinator reads. */
  public static Hash hash(Path path) {
    Hash job = new Hash();
    job.params.setPath(path.toString());
    return job;
  }

  /** A kind a plugin provides on the coordinator's and the workers' class path. */
  public static Plugin plugin(String kind) {
    Plugin job = new Plugin();
    job.params.setKind(Objects.requireNonNull(kind, "kind"));
    return job;
  }

  /** A kind with nothing to set beyond its parameters: sum, primes, pi, sleep, noop. */
  public static final class Simple extends JobBuilder<Simple> {
    Simple() {}
  }

  /** An exec job: a command per task. */
  public static final class Exec extends JobBuilder<Exec> {
    final ExecParams.Builder params = ExecParams.newBuilder();

    Exec() {}

    /** One task per input, each replacing {@code {}} in the command. */
    public Exec inputs(String... inputs) {
      params.addAllInputs(List.of(inputs));
      return this;
    }

    /** One task per input, each replacing {@code {}} in the command. */
    public Exec inputs(List<String> inputs) {
      params.addAllInputs(inputs);
      return this;
    }

    /** The tasks' working directory on their worker (default: the worker's). */
    public Exec workdir(String directory) {
      params.setWorkdir(directory);
      return this;
    }

    /** An extra environment variable for the task processes. */
    public Exec env(String name, String value) {
      params.putEnv(name, value);
      return this;
    }

    /** Extra environment variables for the task processes. */
    public Exec env(Map<String, String> variables) {
      params.putAllEnv(variables);
      return this;
    }

    @Override
    public dev.weft.v1.JobSpec spec() {
      spec.setExec(params);
      return super.spec();
    }
  }

  /** A hash job: the SHA-256 of each chunk of a file. */
  public static final class Hash extends JobBuilder<Hash> {
    final HashParams.Builder params = HashParams.newBuilder();

    Hash() {}

    /** The chunk size in bytes ({@link #taskSize} overrides it). */
    public Hash chunkBytes(long bytes) {
      params.setChunkBytes(bytes);
      return this;
    }

    @Override
    public dev.weft.v1.JobSpec spec() {
      spec.setHash(params);
      return super.spec();
    }
  }

  /** A plugin's job: its kind, its named arguments and optional bytes. */
  public static final class Plugin extends JobBuilder<Plugin> {
    final PluginParams.Builder params = PluginParams.newBuilder();

    Plugin() {}

    /** A named argument the plugin reads. */
    public Plugin arg(String name, String value) {
      params.putArgs(name, value);
      return this;
    }

    /** Bytes the plugin reads. */
    public Plugin data(byte[] data) {
      params.setData(ByteString.copyFrom(data));
      return this;
    }

    @Override
    public dev.weft.v1.JobSpec spec() {
      spec.setPlugin(params);
      return super.spec();
    }
  }
}
