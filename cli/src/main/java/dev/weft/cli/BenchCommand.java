package dev.weft.cli;

import dev.weft.bench.TransportBench;
import dev.weft.v1.Job;
import dev.weft.v1.WorkerInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code weft bench}: the transports side by side, through the real coordinator and workers. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Compare the transports (grpc over TCP loopback, pipe, shm) through the real coordinator"
          + " and worker code: for each, a coordinator in this JVM and one worker process of its"
          + " own on that transport. Measurements are interleaved round by round (grpc pipe shm"
          + " grpc pipe shm ...) so drift in the machine's speed hits every transport alike.",
      "Measures: the round trip of a one-task no-op job (p50/p99/p99.9 in microseconds), no-op"
          + " tasks per second with the worker's pipeline full, and MB/s of tasks carrying 64 KiB"
          + " and 1 MiB payloads (the path a hash job's chunks take).",
      "--journal both runs each transport twice, without and with the coordinator's journal (in a"
          + " temporary data dir), and prints what the journal costs.",
      "--join HOST:PORT measures a running cluster instead: its workers are grouped by the"
          + " transport 'weft workers' shows, and each group gets the same measurements, with jobs"
          + " that run only on its workers (submit --on), from this client over the network.",
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft bench                              all transports, default durations",
      "  weft bench --transports shm,grpc --duration 5s --warmup 20s",
      "  weft bench --transports shm --journal both   what durability costs",
      "  weft bench --json                       one JSON object per transport, one per line",
      "  weft bench --join 10.0.0.5:7070 --token $WEFT_TOKEN   a running cluster's transports",
    })
final class BenchCommand implements Callable<Integer> {
  private static final List<Logger> QUIETED =
      List.of(Logger.getLogger("dev.weft"), Logger.getLogger("io.grpc"));

  @Spec private CommandSpec spec;

  @Option(
      names = "--transports",
      split = ",",
      paramLabel = "T",
      defaultValue = "grpc,pipe,shm",
      description = "Transports to compare, from grpc, pipe, shm (default: ${DEFAULT-VALUE}).")
  private List<String> transports;

  @Option(
      names = "--duration",
      paramLabel = "DURATION",
      defaultValue = "3s",
      converter = DurationConverter.class,
      description =
          "Time each measurement takes per transport, split over the rounds (default:"
              + " ${DEFAULT-VALUE}).")
  private Duration duration;

  @Option(
      names = "--warmup",
      paramLabel = "DURATION",
      defaultValue = "10s",
      converter = DurationConverter.class,
      description =
          "Unrecorded round trips per transport before the measurements, split over the rounds;"
              + " gRPC needs about 20 s here to settle (default: ${DEFAULT-VALUE}).")
  private Duration warmup;

  @Option(
      names = "--rounds",
      paramLabel = "N",
      defaultValue = "3",
      description = "Interleaved rounds (default: ${DEFAULT-VALUE}).")
  private int rounds;

  @Option(
      names = "--slots",
      paramLabel = "N",
      defaultValue = "2",
      description = "Slots of each bench worker (default: ${DEFAULT-VALUE}).")
  private int slots;

  @Option(
      names = "--prefetch",
      paramLabel = "N",
      defaultValue = "512",
      description =
          "Tasks each bench worker queues beyond its slots, so the pipeline stays full"
              + " (default: ${DEFAULT-VALUE}).")
  private int prefetch;

  @Option(
      names = "--journal",
      paramLabel = "MODE",
      defaultValue = "off",
      description =
          "Run the coordinators without the journal (off), with it (on), or both ways side by"
              + " side (both) (default: ${DEFAULT-VALUE}).")
  private String journal;

  @Option(names = "--json", description = "One JSON object per transport, one per line.")
  private boolean json;

  @Option(
      names = "--join",
      paramLabel = "HOST:PORT",
      converter = Address.Converter.class,
      description =
          "Measure the running coordinator there and its workers, transport by transport, instead"
              + " of starting coordinators and workers of its own.")
  private Address join;

  @Mixin private TlsClientOptions tls;

  @Override
  public Integer call() throws IOException, InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (slots < 1 || prefetch < 0 || rounds < 1) {
      throw new CliException(
          ExitCodes.USAGE, "--slots and --rounds must be at least 1 and --prefetch at least 0");
    }
    List<Boolean> journalModes =
        switch (journal) {
          case "off" -> List.of(false);
          case "on" -> List.of(true);
          case "both" -> List.of(false, true);
          default ->
              throw new CliException(
                  ExitCodes.USAGE, "--journal must be off, on or both, got '" + journal + "'");
        };
    QUIETED.forEach(logger -> logger.setLevel(Level.WARNING));
    TransportBench.Options options;
    try {
      options =
          new TransportBench.Options(
              transports,
              duration,
              warmup,
              rounds,
              slots,
              prefetch,
              WeftJvm.command(List.of("worker", "--quiet")),
              journalModes);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    long start = System.nanoTime();
    TransportBench bench =
        new TransportBench(
            options,
            line -> {
              err.println("bench: " + line);
              err.flush();
            });
    List<TransportBench.Result> results =
        join == null ? bench.run() : benchRunningCluster(bench, journalModes);
    double seconds = (System.nanoTime() - start) / 1e9;
    if (json) {
      for (TransportBench.Result r : results) {
        out.println(toJson(r));
      }
      out.flush();
      return ExitCodes.OK;
    }
    Table table =
        new Table(
            "TRANSPORT",
            "RTT P50 µs",
            "RTT P99 µs",
            "RTT P99.9 µs",
            "TASKS/S",
            "MB/S 64KiB",
            "MB/S 1MiB");
    for (TransportBench.Result r : results) {
      table.row(
          label(r),
          fixed(r.rttP50Us(), 1),
          fixed(r.rttP99Us(), 1),
          fixed(r.rttP999Us(), 1),
          fixed(r.tasksPerS(), 0),
          fixed(r.mbPerS64k(), 0),
          fixed(r.mbPerS1m(), 0));
    }
    table.print(out);
    for (boolean journaled : journalModes) {
      compareTransports(out, results, journaled);
    }
    for (TransportBench.Result with : results) {
      TransportBench.Result without = find(results, with.transport(), false);
      if (with.journal() && without != null) {
        out.printf(
            Locale.ROOT,
            "%s: the journal costs %.1f%% of no-op tasks/s (%s -> %s); round trip p50 %s -> %s"
                + " µs, 1 MiB payloads %s -> %s MB/s%n",
            with.transport(),
            100 * (1 - with.tasksPerS() / without.tasksPerS()),
            fixed(without.tasksPerS(), 0),
            fixed(with.tasksPerS(), 0),
            fixed(without.rttP50Us(), 1),
            fixed(with.rttP50Us(), 1),
            fixed(without.mbPerS1m(), 0),
            fixed(with.mbPerS1m(), 0));
      }
    }
    out.printf(Locale.ROOT, "(%d rounds, %.0f s in all)%n", rounds, seconds);
    out.flush();
    return ExitCodes.OK;
  }

  /**
   * {@code --join}: the cluster's workers grouped by transport, each group measured with jobs that
   * run on it alone, submitted and watched over the network like any client's.
   */
  private List<TransportBench.Result> benchRunningCluster(
      TransportBench bench, List<Boolean> journalModes) throws InterruptedException {
    if (!journal.equals("off")) {
      throw new CliException(
          ExitCodes.USAGE,
          "--journal is for the coordinators weft bench starts itself; with --join the cluster's"
              + " coordinator runs as it was started");
    }
    try (CoordinatorClient client = new CoordinatorClient(join, tls.security())) {
      Map<String, List<String>> byTransport = new LinkedHashMap<>();
      for (WorkerInfo worker : client.workers()) {
        if (worker.getKindsList().contains("noop") && worker.getState().equals("ready")) {
          byTransport
              .computeIfAbsent(worker.getTransport(), t -> new ArrayList<>())
              .add(worker.getId());
        }
      }
      if (byTransport.isEmpty()) {
        throw new CliException(
            ExitCodes.JOB_FAILED,
            "the coordinator at " + join + " has no ready worker that runs noop tasks to measure");
      }
      JobWatcher watcher = new JobWatcher(client, JobWatcher.WATCH_DEADLINE);
      return bench.runAgainst(
          spec -> {
            Job submitted = client.submit(spec);
            return CompletableFuture.completedFuture(
                watcher.await(submitted.getId(), (done, failed, running, total) -> {}));
          },
          byTransport);
    }
  }

  /** Each transport against grpc, among the runs with (or without) the journal. */
  private static void compareTransports(
      PrintWriter out, List<TransportBench.Result> results, boolean journaled) {
    TransportBench.Result grpc = find(results, "grpc", journaled);
    for (TransportBench.Result r : results) {
      if (grpc != null && r != grpc && r.journal() == journaled) {
        out.printf(
            Locale.ROOT,
            "%s vs %s: round trip %s, tasks/s %s, 1 MiB payloads %s%n",
            label(r),
            label(grpc),
            factor(grpc.rttP50Us() / r.rttP50Us()),
            factor(r.tasksPerS() / grpc.tasksPerS()),
            factor(r.mbPerS1m() / grpc.mbPerS1m()));
      }
    }
  }

  private static String label(TransportBench.Result r) {
    return r.journal() ? r.transport() + "+journal" : r.transport();
  }

  private static TransportBench.Result find(
      List<TransportBench.Result> results, String name, boolean journaled) {
    return results.stream()
        .filter(r -> r.transport().equals(name) && r.journal() == journaled)
        .findFirst()
        .orElse(null);
  }

  /** "5.2x better" or "1.3x worse", for a ratio where above 1 is better. */
  private static String factor(double ratio) {
    return ratio >= 1
        ? String.format(Locale.ROOT, "%.1fx better", ratio)
        : String.format(Locale.ROOT, "%.1fx worse", 1 / ratio);
  }

  private static String fixed(double value, int decimals) {
    return String.format(Locale.ROOT, "%." + decimals + "f", value);
  }

  static String toJson(TransportBench.Result r) {
    return String.format(
        Locale.ROOT,
        "{\"transport\":\"%s\",\"journal\":%b,\"rtt_p50_us\":%.2f,\"rtt_p99_us\":%.2f,\"rtt_p999_us\":%.2f,"
            + "\"rtt_samples\":%d,\"tasks_per_s\":%.0f,\"mb_per_s\":%.1f,\"mb_per_s_64k\":%.1f,"
            + "\"mb_per_s_1m\":%.1f}",
        r.transport(),
        r.journal(),
        r.rttP50Us(),
        r.rttP99Us(),
        r.rttP999Us(),
        r.rttSamples(),
        r.tasksPerS(),
        r.mbPerS1m(),
        r.mbPerS64k(),
        r.mbPerS1m());
  }
}
