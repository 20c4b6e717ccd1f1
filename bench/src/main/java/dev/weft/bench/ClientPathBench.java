package dev.weft.bench;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.TempDataDir;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The user's path, transport by transport: a coordinator with its journal on (a data dir of its
 * own) and worker processes on that transport, measured from a client in a process of its own
 * ({@link ClientProbe}) over the coordinator's gRPC port. Each client is warmed until its round
 * trip settles; then the rounds go transport by transport (A B A B ...) and each figure is the
 * median of its rounds, so drift in the machine's speed hits every transport alike.
 */
public final class ClientPathBench {
  /** What to run; see {@code weft bench --help}. */
  public record Options(
      List<String> transports,
      Duration duration,
      Duration warmup,
      int rounds,
      int workers,
      int workerSlots,
      int prefetch,
      int bigJobTasks,
      List<String> workerCommand,
      List<String> clientCommand) {
    public Options {
      transports = List.copyOf(transports);
      workerCommand = List.copyOf(workerCommand);
      clientCommand = List.copyOf(clientCommand);
      if (transports.isEmpty()) {
        throw new IllegalArgumentException("name at least one transport");
      }
      for (String transport : transports) {
        if (!List.of("grpc", "pipe", "shm").contains(transport)) {
          throw new IllegalArgumentException(
              "transport must be grpc, pipe or shm, got '" + transport + "'");
        }
      }
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException("duration must be positive, got " + duration);
      }
      if (warmup.isNegative()) {
        throw new IllegalArgumentException("warm-up must not be negative, got " + warmup);
      }
      if (rounds < 1 || workers < 1 || workerSlots < 1) {
        throw new IllegalArgumentException(
            "rounds, workers and slots must be at least 1, got "
                + rounds
                + ", "
                + workers
                + ", "
                + workerSlots);
      }
      if (bigJobTasks < 1) {
        throw new IllegalArgumentException("the big job needs at least 1 task, got " + bigJobTasks);
      }
    }
  }

  /**
   * One transport's figures, medians over the rounds. {@code api} and {@code pipelineApi} say which
   * calls the client used: RunJob and RunJobs, or SubmitJob+WatchJob where the coordinator did not
   * serve them.
   */
  public record Result(
      String transport,
      String api,
      String pipelineApi,
      int workers,
      int slots,
      double unaryP50Us,
      double unaryP99Us,
      long unarySamples,
      double rttP50Us,
      double rttP99Us,
      long rttSamples,
      int inFlight,
      double jobsPerS,
      int bigJobTasks,
      double bigJobTasksPerS,
      double sumMs,
      String sum,
      double warmupS,
      boolean settled) {}

  private static final Duration ATTACH_DEADLINE = Duration.ofSeconds(30);
  // A round includes the big job, which a slow path takes minutes over.
  private static final Duration ROUND_MARGIN = ClientProbe.BIG_JOB_DEADLINE.plusMinutes(2);

  private final Options options;
  private final Consumer<String> progress;

  public ClientPathBench(Options options, Consumer<String> progress) {
    this.options = options;
    this.progress = progress;
  }

  /** One transport under test: its coordinator, data dir and client process. */
  private record Setup(
      String transport, TempDataDir dataDir, Coordinator coordinator, ClientProcess client) {}

  /** Runs every measurement; coordinators, workers, clients and data dirs are gone on return. */
  public List<Result> run() throws IOException, InterruptedException {
    List<Setup> setups = new ArrayList<>();
    try {
      for (String transport : options.transports()) {
        progress.accept("client path: starting " + transport);
        setups.add(start(transport));
      }
      Map<Setup, Rounds> rounds = new LinkedHashMap<>();
      for (Setup setup : setups) {
        rounds.put(setup, new Rounds());
      }
      Duration warmupDeadline = options.warmup().plus(ROUND_MARGIN);
      for (Setup setup : setups) {
        progress.accept("client path: warming up " + setup.transport());
        Map<String, String> warm =
            setup.client().ask("warmup " + options.warmup().toNanos(), warmupDeadline);
        rounds.get(setup).warmup = warm;
      }
      long slice = options.duration().toNanos() / options.rounds();
      Duration roundDeadline = options.duration().plus(ROUND_MARGIN);
      for (int round = 1; round <= options.rounds(); round++) {
        for (Setup setup : setups) {
          progress.accept(
              "client path: round " + round + "/" + options.rounds() + ": " + setup.transport());
          rounds
              .get(setup)
              .answers
              .add(
                  setup
                      .client()
                      .ask("round " + slice + " " + options.bigJobTasks(), roundDeadline));
        }
      }
      List<Result> results = new ArrayList<>();
      rounds.forEach((setup, r) -> results.add(r.result(setup.transport())));
      return results;
    } finally {
      close(setups);
    }
  }

  private Setup start(String transport) throws IOException, InterruptedException {
    TempDataDir dataDir = TempDataDir.create("weft-bench-client-");
    Coordinator coordinator = null;
    ClientProcess client = null;
    boolean started = false;
    try {
      List<String> workerCommand = new ArrayList<>(options.workerCommand());
      workerCommand.addAll(List.of("--prefetch", String.valueOf(options.prefetch())));
      coordinator =
          Coordinator.start(
              new CoordinatorConfig()
                  .listen("127.0.0.1", 0)
                  .shmUpgrade(transport.equals("shm") ? "auto" : "grpc")
                  // Keeps the journal and memory bounded through millions of one-task jobs.
                  .retainedFinishedJobs(1_000)
                  .dataDir(dataDir.path())
                  .localWorkers(
                      options.workers(), transport, options.workerSlots(), workerCommand));
      List<String> command = new ArrayList<>(options.clientCommand());
      command.addAll(List.of("--coordinator", "127.0.0.1:" + coordinator.port()));
      client =
          new ClientProcess(transport, command, coordinator.security().adminToken().orElseThrow());
      // The client sees the workers as a user would (weft workers): ready, on this transport.
      client.ask(
          "workers " + options.workers() + " " + transport + " " + ATTACH_DEADLINE.toNanos(),
          ATTACH_DEADLINE.plusSeconds(30));
      started = true;
      return new Setup(transport, dataDir, coordinator, client);
    } finally {
      if (!started) {
        close(List.of(new Setup(transport, dataDir, coordinator, client)));
      }
    }
  }

  private static void close(List<Setup> setups) throws IOException, InterruptedException {
    IOException first = null;
    for (Setup setup : setups) {
      try {
        if (setup.client() != null) {
          setup.client().close();
        }
      } catch (IOException e) {
        first = first == null ? e : first;
      }
      if (setup.coordinator() != null) {
        setup.coordinator().close();
      }
      try {
        setup.dataDir().close();
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** A transport's answers, round by round. */
  private final class Rounds {
    private Map<String, String> warmup = Map.of();
    private final List<Map<String, String>> answers = new ArrayList<>();

    Result result(String transport) {
      Map<String, String> last = answers.getLast();
      return new Result(
          transport,
          last.get("api"),
          last.get("pipeline_api"),
          options.workers(),
          options.workerSlots(),
          median("unary_p50_ns") / 1e3,
          median("unary_p99_ns") / 1e3,
          sum("unary_samples"),
          median("rtt_p50_ns") / 1e3,
          median("rtt_p99_ns") / 1e3,
          sum("rtt_samples"),
          ClientProbe.IN_FLIGHT,
          median("jobs_per_s"),
          options.bigJobTasks(),
          median("big_tasks_per_s"),
          median("sum_ms"),
          last.get("sum"),
          Long.parseLong(warmup.getOrDefault("warmup_ns", "0")) / 1e9,
          Boolean.parseBoolean(warmup.getOrDefault("settled", "false")));
    }

    private double median(String key) {
      return TransportBench.median(
          answers.stream().map(a -> Double.parseDouble(a.get(key))).toList());
    }

    private long sum(String key) {
      return answers.stream().mapToLong(a -> Long.parseLong(a.get(key))).sum();
    }
  }
}
