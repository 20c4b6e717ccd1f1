package dev.weft.bench;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.TempDataDir;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.NoopParams;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Compares the transports through the real coordinator and worker: for each transport a coordinator
 * runs in this process with one worker process of its own on that transport, and the same jobs go
 * through each in turn, interleaved round by round so drift in the machine's speed hits every
 * transport alike.
 *
 * <p>Measured per transport: the round trip of a one-task no-op job (submit to result, in this
 * process), no-op tasks per second with the worker's pipeline full, and payload throughput of no-op
 * tasks carrying 64 KiB and 1 MiB each (the path a {@code hash} job's chunks take).
 *
 * <p>Each transport runs without the journal, with it (in a temporary data dir of its own), or both
 * ways side by side, interleaved like the transports, to measure what durability costs.
 */
public final class TransportBench {
  /** What to run; see {@code weft bench --help}. */
  public record Options(
      List<String> transports,
      Duration duration,
      Duration warmup,
      int rounds,
      int workerSlots,
      int prefetch,
      List<String> workerCommand,
      List<Boolean> journal) {
    public Options {
      transports = List.copyOf(transports);
      journal = List.copyOf(journal);
      if (journal.isEmpty()) {
        throw new IllegalArgumentException("run with the journal, without it, or both");
      }
      workerCommand = List.copyOf(workerCommand);
      for (String transport : transports) {
        if (!List.of("grpc", "pipe", "shm").contains(transport)) {
          throw new IllegalArgumentException(
              "transport must be grpc, pipe or shm, got '" + transport + "'");
        }
      }
      if (transports.isEmpty()) {
        throw new IllegalArgumentException("name at least one transport");
      }
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException("duration must be positive, got " + duration);
      }
      if (rounds < 1) {
        throw new IllegalArgumentException("rounds must be at least 1, got " + rounds);
      }
    }
  }

  /** One transport's figures, with or without the journal. */
  public record Result(
      String transport,
      boolean journal,
      double rttP50Us,
      double rttP99Us,
      double rttP999Us,
      long rttSamples,
      double tasksPerS,
      double mbPerS64k,
      double mbPerS1m) {}

  /** Runs a job to its end: a coordinator in this JVM, or one reached over the network. */
  @FunctionalInterface
  public interface JobRunner {
    CompletableFuture<Job> run(JobSpec spec) throws InterruptedException;
  }

  private static final int KIB = 1024;
  private static final long ROUND_TRIP_DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(30);

  private final Options options;
  private final Consumer<String> progress;

  public TransportBench(Options options, Consumer<String> progress) {
    this.options = options;
    this.progress = progress;
  }

  /** One coordinator under test: a transport, with or without the journal. */
  private record Setup(String transport, boolean journal) {
    @Override
    public String toString() {
      return journal ? transport + "+journal" : transport;
    }
  }

  /** Runs every measurement; the coordinators, workers and data dirs are gone when it returns. */
  public List<Result> run() throws IOException, InterruptedException {
    List<Setup> setups = new ArrayList<>();
    for (String transport : options.transports()) {
      for (boolean journal : options.journal()) {
        setups.add(new Setup(transport, journal));
      }
    }
    Map<Setup, Coordinator> coordinators = new LinkedHashMap<>();
    List<TempDataDir> dataDirs = new ArrayList<>();
    try {
      for (Setup setup : setups) {
        // Always a data dir: it holds the coordinator's keys; the journal is there or not.
        TempDataDir dataDir = TempDataDir.create("weft-bench-");
        dataDirs.add(dataDir);
        coordinators.put(setup, start(setup.transport(), dataDir, setup.journal()));
      }
      Map<Setup, Samples> samples = new LinkedHashMap<>();
      for (Setup setup : setups) {
        samples.put(setup, new Samples());
      }
      long warmupNanos = options.warmup().toNanos() / options.rounds();
      long sliceNanos = options.duration().toNanos() / options.rounds();
      for (int round = 1; round <= options.rounds(); round++) {
        for (Setup setup : setups) {
          progress.accept("round " + round + "/" + options.rounds() + ": " + setup);
          Coordinator coordinator = coordinators.get(setup);
          measure(coordinator::run, warmupNanos, sliceNanos, samples.get(setup));
        }
      }
      List<Result> results = new ArrayList<>();
      for (Map.Entry<Setup, Samples> entry : samples.entrySet()) {
        results.add(entry.getValue().result(entry.getKey().transport(), entry.getKey().journal()));
      }
      return results;
    } finally {
      for (Coordinator coordinator : coordinators.values()) {
        coordinator.close();
      }
      for (TempDataDir dataDir : dataDirs) {
        dataDir.close();
      }
    }
  }

  /**
   * Measures a running cluster: for each transport in {@code workersByTransport}, jobs that run
   * only on that transport's workers (by id), interleaved round by round as {@link #run()} does.
   * The options' transports, slots, prefetch and journal settings do not apply: the cluster is as
   * it is.
   */
  public List<Result> runAgainst(JobRunner cluster, Map<String, List<String>> workersByTransport)
      throws InterruptedException {
    Map<String, Samples> samples = new LinkedHashMap<>();
    workersByTransport.keySet().forEach(transport -> samples.put(transport, new Samples()));
    long warmupNanos = options.warmup().toNanos() / options.rounds();
    long sliceNanos = options.duration().toNanos() / options.rounds();
    for (int round = 1; round <= options.rounds(); round++) {
      for (Map.Entry<String, List<String>> entry : workersByTransport.entrySet()) {
        progress.accept(
            "round "
                + round
                + "/"
                + options.rounds()
                + ": "
                + entry.getKey()
                + " on "
                + String.join(",", entry.getValue()));
        JobRunner pinned =
            spec -> cluster.run(spec.toBuilder().addAllWorkers(entry.getValue()).build());
        measure(pinned, warmupNanos, sliceNanos, samples.get(entry.getKey()));
      }
    }
    List<Result> results = new ArrayList<>();
    samples.forEach((transport, s) -> results.add(s.result(transport, false)));
    return results;
  }

  /** One round of every measurement; warm-up round trips (for the JIT) are not recorded. */
  private static void measure(JobRunner runner, long warmupNanos, long sliceNanos, Samples s)
      throws InterruptedException {
    roundTrips(runner, warmupNanos, null);
    roundTrips(runner, sliceNanos, s);
    s.tasksPerS.add(noopRate(runner, 0, sliceNanos));
    s.mbPerS64k.add(payloadRate(runner, 64 * KIB, sliceNanos));
    s.mbPerS1m.add(payloadRate(runner, 1024 * KIB, sliceNanos));
  }

  /**
   * A coordinator with one worker on {@code transport}; journaling into {@code dataDir}, if any.
   */
  private Coordinator start(String transport, TempDataDir dataDir, boolean journal)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(options.workerCommand());
    command.addAll(List.of("--prefetch", String.valueOf(options.prefetch())));
    Coordinator coordinator =
        Coordinator.start(
            new CoordinatorConfig()
                .listen("127.0.0.1", 0)
                .shmUpgrade(transport.equals("shm") ? "auto" : "grpc")
                .retainedFinishedJobs(1_000)
                .dataDir(dataDir.path())
                .journal(journal)
                .localWorkers(1, transport, options.workerSlots(), command));
    boolean ready = false;
    try {
      ready = coordinator.awaitWorkers(1, Duration.ofSeconds(30));
      if (ready && transport.equals("shm")) {
        ready = coordinator.awaitTransport(dev.weft.wire.Transport.SHM, Duration.ofSeconds(30));
      }
    } finally {
      if (!ready) {
        coordinator.close();
      }
    }
    if (!ready) {
      throw new IOException("the " + transport + " worker did not attach within 30 s");
    }
    return coordinator;
  }

  /** Runs one-task jobs back to back; the caller polls so its own wake-up is not timed. */
  private static void roundTrips(JobRunner coordinator, long nanos, Samples into)
      throws InterruptedException {
    JobSpec spec = JobSpec.newBuilder().setNoop(NoopParams.getDefaultInstance()).build();
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() < end) {
      long start = System.nanoTime();
      CompletableFuture<Job> job = coordinator.run(spec);
      long giveUp = start + ROUND_TRIP_DEADLINE_NANOS;
      while (!job.isDone()) {
        // Yield rather than spin: on a small machine the coordinator and worker need the cores.
        Thread.yield();
        if (System.nanoTime() - giveUp > 0) {
          throw new IllegalStateException(
              "a one-task job did not finish within "
                  + TimeUnit.NANOSECONDS.toSeconds(ROUND_TRIP_DEADLINE_NANOS)
                  + " s: is the worker gone?");
        }
      }
      long took = System.nanoTime() - start;
      check(job);
      if (into != null) {
        into.rtt.add(took);
      }
      if (Thread.interrupted()) {
        throw new InterruptedException("bench interrupted");
      }
    }
  }

  /**
   * No-op tasks per second with the pipeline full: one big job, sized to last about {@code nanos}.
   */
  private static double noopRate(JobRunner coordinator, int payloadBytes, long nanos)
      throws InterruptedException {
    int tasks = 2_000;
    double rate = 0;
    long end = System.nanoTime() + nanos;
    do {
      long start = System.nanoTime();
      Job job =
          await(
              coordinator.run(
                  JobSpec.newBuilder()
                      .setNoop(NoopParams.newBuilder().setPayloadBytes(payloadBytes))
                      .setTasks(tasks)
                      .build()));
      long took = System.nanoTime() - start;
      checkDone(job);
      rate = tasks * 1e9 / took;
      // Size the next job to about half the remaining time, so the last one is long enough.
      long left = end - System.nanoTime();
      tasks = (int) Math.max(1_000, Math.min(1_000_000, rate * left / 2e9));
    } while (System.nanoTime() < end - nanos / 4);
    return rate;
  }

  private static double payloadRate(JobRunner coordinator, int payloadBytes, long nanos)
      throws InterruptedException {
    return noopRate(coordinator, payloadBytes, nanos) * payloadBytes / 1e6;
  }

  private static Job await(CompletableFuture<Job> future) throws InterruptedException {
    try {
      return future.get(2, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      throw new IllegalStateException(
          "bench job failed: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "bench job did not finish within 2 minutes: is the worker gone?", e);
    }
  }

  private static void check(CompletableFuture<Job> job) throws InterruptedException {
    checkDone(await(job));
  }

  private static void checkDone(Job job) {
    if (job.getState() != JobState.SUCCEEDED) {
      throw new IllegalStateException(
          "bench job " + job.getId() + " ended " + job.getState() + ": " + job.getError());
    }
  }

  /** What one transport measured over all rounds. */
  private static final class Samples {
    private final LongSamples rtt = new LongSamples();
    private final List<Double> tasksPerS = new ArrayList<>();
    private final List<Double> mbPerS64k = new ArrayList<>();
    private final List<Double> mbPerS1m = new ArrayList<>();

    Result result(String transport, boolean journal) {
      long[] sorted = rtt.sorted();
      return new Result(
          transport,
          journal,
          percentile(sorted, 0.50) / 1e3,
          percentile(sorted, 0.99) / 1e3,
          percentile(sorted, 0.999) / 1e3,
          sorted.length,
          median(tasksPerS),
          median(mbPerS64k),
          median(mbPerS1m));
    }
  }

  private static double percentile(long[] sorted, double p) {
    return LongSamples.percentile(sorted, p);
  }

  static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }
}
