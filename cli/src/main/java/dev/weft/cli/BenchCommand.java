package dev.weft.cli;

import dev.weft.bench.ClientPathBench;
import dev.weft.bench.SwarmBench;
import dev.weft.bench.TransportBench;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.Job;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
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
import java.util.function.Consumer;
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
          + " and worker code, on two paths. Measurements are interleaved round by round (grpc"
          + " pipe shm grpc pipe shm ...) so drift in the machine's speed hits every transport"
          + " alike; figures are medians of the rounds.",
      "Link path: a coordinator in this JVM with one worker process on the transport, jobs"
          + " submitted inside that JVM: the round trip of a one-task no-op job (p50/p99/p99.9"
          + " in microseconds), no-op tasks per second with the worker's pipeline full, and MB/s"
          + " of tasks carrying 64 KiB and 1 MiB payloads (the path a hash job's chunks take).",
      "Client path (what a user waits for): a coordinator with its journal on and 2 worker"
          + " processes on the transport, measured from a separate client process over the"
          + " coordinator's gRPC port: a bare unary call (grpc.health.v1 Check) as the reference,"
          + " the round trip of a one-task job (RunJob), one-task jobs/s with 256 unfinished"
          + " (RunJobs), tasks/s of one job of --client-tasks no-op tasks (submit to finished),"
          + " and the sum 1..1e9 in 100 tasks (ms). Against a coordinator without RunJob or"
          + " RunJobs the client uses SubmitJob and WatchJob, and says so (API column).",
      "--journal both runs each transport of the link path twice, without and with the"
          + " coordinator's journal (in a temporary data dir), and prints what the journal costs.",
      "Swarm path (--path swarm, as root): one coordinator process (journal on, TLS, join"
          + " token) and a load generator process in a network namespace of its own (a veth pair"
          + " on 10.78.0.0/30) holding --workers workers of --slots slots, each on an Attach"
          + " stream and a TCP connection of its own, running the jobs of --client-tasks no-op"
          + " tasks a client process submits back to back: the time all workers take to attach,"
          + " tasks/s over --duration after --warmup, the coordinator's RSS and heap (after a full"
          + " GC) before and after the workers attach, per worker, and the CPU of each process.",
      "--join HOST:PORT measures a running cluster instead: its workers are grouped by the"
          + " transport 'weft workers' shows, and each group gets the same measurements, with jobs"
          + " that run only on its workers (submit --on), from this client over the network.",
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft bench                              all transports, both paths, default durations",
      "  weft bench --path client --transports shm --client-tasks 100000 --warmup 5s",
      "  weft bench --path link --transports shm,grpc --duration 5s --warmup 20s",
      "  weft bench --path link --transports shm --journal both   what durability costs",
      "  weft bench --json                       one JSON object per transport, one per line",
      "  weft bench --path swarm --workers 1000 --slots 4 --duration 10s   one leader, 1000 workers",
      "  weft bench --join 10.0.0.5:7070 --token $WEFT_TOKEN   a running cluster's transports",
    })
final class BenchCommand implements Callable<Integer> {
  private static final int CLIENT_WORKERS = 2;
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
      converter = DurationConverter.class,
      description =
          "Time each measurement takes per transport, split over the rounds; the swarm path's"
              + " measured window (default: 3s; 10s for the swarm path).")
  private Duration duration;

  @Option(
      names = "--warmup",
      paramLabel = "DURATION",
      defaultValue = "20s",
      converter = DurationConverter.class,
      description =
          "Unrecorded work per transport before the measurements (gRPC needs about 20 s on a"
              + " small machine to settle): the link path splits it over the rounds; the client"
              + " path warms until its round trip holds still, at most this long (default:"
              + " ${DEFAULT-VALUE}).")
  private Duration warmup;

  @Option(
      names = "--path",
      paramLabel = "PATH",
      description =
          "Which rows: link, client, both or swarm (default: both; link alone with --join).")
  private String path;

  @Option(
      names = "--client-tasks",
      paramLabel = "N",
      defaultValue = "1000000",
      converter = NumberConverter.class,
      description =
          "Tasks of the client path's one big no-op job, 1 to 1000000 (default:"
              + " ${DEFAULT-VALUE}).")
  private long clientTasks;

  @Option(
      names = "--rounds",
      paramLabel = "N",
      defaultValue = "3",
      description = "Interleaved rounds (default: ${DEFAULT-VALUE}).")
  private int rounds;

  @Option(
      names = "--slots",
      paramLabel = "N",
      description = "Slots of each bench worker (default: 2; 4 for the swarm path).")
  private Integer slots;

  @Option(
      names = "--prefetch",
      paramLabel = "N",
      description =
          "Tasks each bench worker queues beyond its slots, so the pipeline stays full (default:"
              + " 512; for the swarm path as many as the slots, a real worker's default).")
  private Integer prefetch;

  @Option(
      names = "--workers",
      paramLabel = "N",
      defaultValue = "1000",
      converter = NumberConverter.class,
      description = "Swarm path: workers in the load generator (default: ${DEFAULT-VALUE}).")
  private long swarmWorkers;

  @Option(
      names = "--event-loops",
      paramLabel = "N",
      defaultValue = "2",
      description =
          "Swarm path: event loop threads the load generator's streams share (default:"
              + " ${DEFAULT-VALUE}).")
  private int eventLoops;

  @Option(
      names = "--journal",
      paramLabel = "MODE",
      defaultValue = "off",
      description =
          "Run the coordinators without the journal (off), with it (on), or both ways side by"
              + " side (both) (default: ${DEFAULT-VALUE}).")
  private String journal;

  @Option(
      names = "--json",
      description =
          "One JSON object per transport and path, one per line; \"path\" is \"link\" or"
              + " \"client\".")
  private boolean json;

  @Option(
      names = "--join",
      paramLabel = "HOST:PORT",
      converter = AddressConverters.HostPort.class,
      description =
          "Measure the running coordinator there and its workers, transport by transport, instead"
              + " of starting coordinators and workers of its own.")
  private Address join;

  @Mixin private TlsClientOptions tls;

  @Override
  public Integer call() throws IOException, InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if ("swarm".equals(path)) {
      return swarm(out, err);
    }
    int slots = this.slots == null ? 2 : this.slots;
    int prefetch = this.prefetch == null ? 512 : this.prefetch;
    Duration duration = this.duration == null ? Duration.ofSeconds(3) : this.duration;
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
    String paths = path == null ? (join == null ? "both" : "link") : path;
    boolean linkPath =
        switch (paths) {
          case "link", "both" -> true;
          case "client" -> false;
          default ->
              throw new CliException(
                  ExitCodes.USAGE,
                  "--path must be link, client, both or swarm, got '" + path + "'");
        };
    boolean clientPath = !paths.equals("link");
    if (clientPath && join != null) {
      throw new CliException(
          ExitCodes.USAGE,
          "--path client measures coordinators weft bench starts itself; with --join only the link"
              + " rows (--path link) are measured");
    }
    if (clientTasks < 1 || clientTasks > 1_000_000) {
      throw new CliException(
          ExitCodes.USAGE, "--client-tasks must be 1 to 1000000, got " + clientTasks);
    }
    QUIETED.forEach(logger -> logger.setLevel(Level.WARNING));
    List<String> workerCommand = WeftJvm.command(List.of("worker", "--quiet"));
    TransportBench.Options options;
    ClientPathBench.Options clientOptions;
    try {
      options =
          new TransportBench.Options(
              transports, duration, warmup, rounds, slots, prefetch, workerCommand, journalModes);
      clientOptions =
          new ClientPathBench.Options(
              transports,
              duration,
              warmup,
              rounds,
              CLIENT_WORKERS,
              slots,
              prefetch,
              (int) clientTasks,
              workerCommand,
              WeftJvm.command(List.of(BenchClientCommand.NAME)));
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    long start = System.nanoTime();
    Consumer<String> progress =
        line -> {
          err.println("bench: " + line);
          err.flush();
        };
    List<TransportBench.Result> results = List.of();
    if (linkPath) {
      TransportBench bench = new TransportBench(options, progress);
      results = join == null ? bench.run() : benchRunningCluster(bench, journalModes);
    }
    List<ClientPathBench.Result> clientResults = List.of();
    if (clientPath) {
      try {
        clientResults = new ClientPathBench(clientOptions, progress).run();
      } catch (IOException | IllegalStateException e) {
        throw new CliException(
            ExitCodes.JOB_FAILED, "the client path could not be measured: " + e.getMessage());
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    if (json) {
      for (TransportBench.Result r : results) {
        out.println(toJson(r));
      }
      for (ClientPathBench.Result r : clientResults) {
        out.println(toJson(r));
      }
      out.flush();
      return ExitCodes.OK;
    }
    if (linkPath) {
      printLinkRows(out, results, journalModes);
    }
    if (clientPath) {
      printClientRows(out, clientResults);
    }
    out.printf(Locale.ROOT, "(%d rounds, %.0f s in all)%n", rounds, seconds);
    out.flush();
    return ExitCodes.OK;
  }

  /** {@code --path swarm}: one coordinator, a thousand workers. */
  private int swarm(PrintWriter out, PrintWriter err) throws IOException, InterruptedException {
    if (join != null) {
      throw new CliException(
          ExitCodes.USAGE, "--path swarm starts its own coordinator; it cannot go with --join");
    }
    if (clientTasks < 1 || clientTasks > 1_000_000) {
      throw new CliException(
          ExitCodes.USAGE, "--client-tasks must be 1 to 1000000, got " + clientTasks);
    }
    if (swarmWorkers < 1 || swarmWorkers > 100_000) {
      throw new CliException(ExitCodes.USAGE, "--workers must be 1 to 100000, got " + swarmWorkers);
    }
    int swarmSlots = slots == null ? 4 : slots;
    SwarmBench.Options options;
    try {
      options =
          new SwarmBench.Options(
              (int) swarmWorkers,
              swarmSlots,
              prefetch == null ? swarmSlots : prefetch,
              eventLoops,
              (int) clientTasks,
              warmup,
              duration == null ? Duration.ofSeconds(10) : duration,
              Duration.ofSeconds(60).plusMillis(20 * swarmWorkers),
              WeftJvm.command(List.of()),
              WeftJvm.command(List.of(SwarmCommand.NAME)),
              WeftJvm.command(List.of(BenchClientCommand.NAME)));
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage());
    }
    QUIETED.forEach(logger -> logger.setLevel(Level.WARNING));
    long start = System.nanoTime();
    SwarmBench.Result result;
    try {
      result =
          new SwarmBench(
                  options,
                  line -> {
                    err.println("bench: " + line);
                    err.flush();
                  })
              .run();
    } catch (IllegalStateException | IOException e) {
      throw new CliException(
          ExitCodes.JOB_FAILED, "the swarm path could not be measured: " + e.getMessage());
    }
    if (json) {
      out.println(toJson(result));
    } else {
      printSwarm(out, result, (System.nanoTime() - start) / 1e9);
    }
    out.flush();
    return ExitCodes.OK;
  }

  private static void printSwarm(PrintWriter out, SwarmBench.Result r, double seconds) {
    out.printf(
        Locale.ROOT,
        "Swarm path (one coordinator, journal on; %d workers x %d slots, prefetch %d, in a network"
            + " namespace, one TCP connection each; jobs of %s no-op tasks from a client"
            + " process):%n",
        r.workers(),
        r.slots(),
        r.prefetch(),
        count(r.tasksPerJob()));
    out.printf(
        Locale.ROOT,
        "  attach       %d workers in %.0f ms (%d sessions)%n",
        r.workers(),
        r.attachMs(),
        r.attachSessions());
    out.printf(
        Locale.ROOT,
        "  throughput   %.0f tasks/s over %.1f s (%d tasks); %d jobs (%d tasks) checked%n",
        r.tasksPerS(),
        r.windowS(),
        r.tasksInWindow(),
        r.jobsChecked(),
        r.tasksChecked());
    out.printf(
        Locale.ROOT,
        "  coordinator  RSS %.1f -> %.1f MiB, heap used after a full GC %.1f -> %.1f MiB: %.1f KiB"
            + " RSS and %.1f KiB heap per worker%n",
        r.rssBefore() / 1048576.0,
        r.rssAfter() / 1048576.0,
        r.heapBefore() / 1048576.0,
        r.heapAfter() / 1048576.0,
        r.rssPerWorker() / 1024,
        r.heapPerWorker() / 1024);
    out.printf(
        Locale.ROOT,
        "  CPU          coordinator %.2f, load generator %.2f, client %.2f cores over the window"
            + " (of %d): %.1f µs of coordinator CPU per task%n",
        r.coordinatorCpu(),
        r.swarmCpu(),
        r.clientCpu(),
        Runtime.getRuntime().availableProcessors(),
        r.coordinatorCpuUsPerTask());
    out.printf(Locale.ROOT, "(%.0f s in all)%n", seconds);
  }

  static String toJson(SwarmBench.Result r) {
    return String.format(
        Locale.ROOT,
        "{\"path\":\"swarm\",\"transport\":\"grpc\",\"journal\":true,\"workers\":%d,"
            + "\"workers_ready\":%d,\"slots\":%d,\"prefetch\":%d,\"tasks_per_job\":%d,\"attach_ms\":%.1f,"
            + "\"attach_sessions\":%d,\"tasks_per_s\":%.0f,\"window_s\":%.2f,"
            + "\"tasks_in_window\":%d,\"jobs_checked\":%d,\"tasks_checked\":%d,"
            + "\"rss_before\":%d,\"rss_after\":%d,\"heap_before\":%d,\"heap_after\":%d,"
            + "\"rss_per_worker\":%.0f,\"heap_per_worker\":%.0f,\"coordinator_cpu\":%.3f,"
            + "\"swarm_cpu\":%.3f,\"client_cpu\":%.3f,\"coordinator_cpu_us_per_task\":%.2f}",
        r.workers(),
        r.workersReady(),
        r.slots(),
        r.prefetch(),
        r.tasksPerJob(),
        r.attachMs(),
        r.attachSessions(),
        r.tasksPerS(),
        r.windowS(),
        r.tasksInWindow(),
        r.jobsChecked(),
        r.tasksChecked(),
        r.rssBefore(),
        r.rssAfter(),
        r.heapBefore(),
        r.heapAfter(),
        r.rssPerWorker(),
        r.heapPerWorker(),
        r.coordinatorCpu(),
        r.swarmCpu(),
        r.clientCpu(),
        r.coordinatorCpuUsPerTask());
  }

  private static void printLinkRows(
      PrintWriter out, List<TransportBench.Result> results, List<Boolean> journalModes) {
    out.println("Link path (jobs submitted inside the coordinator's JVM, one worker process):");
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
  }

  private static void printClientRows(PrintWriter out, List<ClientPathBench.Result> results) {
    if (results.isEmpty()) {
      return;
    }
    ClientPathBench.Result first = results.getFirst();
    out.printf(
        Locale.ROOT,
        "Client path (a separate client process over gRPC, journal on, %d workers x %d slots):%n",
        first.workers(),
        first.slots());
    Table table =
        new Table(
            "TRANSPORT",
            "API",
            "UNARY P50 µs",
            "RTT P50 µs",
            "RTT P99 µs",
            "JOBS/S " + first.inFlight() + " IN FLIGHT",
            "TASKS/S " + count(first.bigJobTasks()) + "-TASK JOB",
            "SUM 1..1e9 ms");
    for (ClientPathBench.Result r : results) {
      table.row(
          r.transport(),
          r.api().equals(r.pipelineApi()) ? r.api() : r.api() + ", " + r.pipelineApi(),
          fixed(r.unaryP50Us(), 1),
          fixed(r.rttP50Us(), 1),
          fixed(r.rttP99Us(), 1),
          fixed(r.jobsPerS(), 0),
          fixed(r.bigJobTasksPerS(), 0),
          fixed(r.sumMs(), 1));
    }
    table.print(out);
    for (ClientPathBench.Result r : results) {
      if (!r.settled() && r.warmupS() > 0) {
        out.printf(
            Locale.ROOT,
            "%s: the client's round trip had not settled after %.0f s of warm-up (--warmup)%n",
            r.transport(),
            r.warmupS());
      }
    }
  }

  /** 1000000 as "1M", 200000 as "200k"; other counts as they are. */
  private static String count(int n) {
    if (n % 1_000_000 == 0) {
      return n / 1_000_000 + "M";
    }
    return n % 1_000 == 0 ? n / 1_000 + "k" : String.valueOf(n);
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
    ClientSecurity security = tls.security(join, false);
    if (security == null) {
      throw TlsClientOptions.noToken(join, false);
    }
    try (CoordinatorClient client = new CoordinatorClient(join, security)) {
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
        "{\"path\":\"link\",\"transport\":\"%s\",\"journal\":%b,\"rtt_p50_us\":%.2f,\"rtt_p99_us\":%.2f,\"rtt_p999_us\":%.2f,"
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

  static String toJson(ClientPathBench.Result r) {
    return String.format(
        Locale.ROOT,
        "{\"path\":\"client\",\"transport\":\"%s\",\"journal\":true,\"api\":\"%s\","
            + "\"pipeline_api\":\"%s\",\"workers\":%d,\"slots\":%d,\"unary_p50_us\":%.2f,"
            + "\"unary_p99_us\":%.2f,\"unary_samples\":%d,\"rtt_p50_us\":%.2f,"
            + "\"rtt_p99_us\":%.2f,\"rtt_samples\":%d,\"in_flight\":%d,\"jobs_per_s\":%.1f,"
            + "\"big_job_tasks\":%d,\"big_job_tasks_per_s\":%.0f,\"sum_ms\":%.2f,"
            + "\"sum_result\":\"%s\",\"warmup_s\":%.1f,\"settled\":%b}",
        r.transport(),
        r.api(),
        r.pipelineApi(),
        r.workers(),
        r.slots(),
        r.unaryP50Us(),
        r.unaryP99Us(),
        r.unarySamples(),
        r.rttP50Us(),
        r.rttP99Us(),
        r.rttSamples(),
        r.inFlight(),
        r.jobsPerS(),
        r.bigJobTasks(),
        r.bigJobTasksPerS(),
        r.sumMs(),
        r.sum(),
        r.warmupS(),
        r.settled());
  }
}
