package dev.weft.cli;

import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.PrimesParams;
import dev.weft.v1.SumParams;
import dev.weft.v1.WorkerInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigInteger;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code weft demo}: a coordinator in this JVM, worker processes beside it, and two jobs whose
 * answers are known, submitted through the real JobService on the loopback port.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Start a coordinator and two worker processes on this host, run a sum and a primes job,"
          + " check their results against known answers, and stop everything again.",
      "Exits 0 when every result matched.",
    })
final class DemoCommand implements Callable<Integer> {
  static final long SUM_TO = 1_000_000_000L;
  static final int SUM_TASKS = 100;
  static final long PRIMES_TO = 50_000_000L;
  static final int PRIMES_TASKS = 50;

  /** pi(5 * 10^7), the number of primes up to fifty million. */
  static final long PRIMES_EXPECTED = 3_001_134L;

  private static final Duration ATTACH_DEADLINE = Duration.ofSeconds(30);
  // The demo prints what matters itself; the embedded coordinator's INFO lines would interleave.
  // Held here so the levels set in call() stick (JUL forgets loggers nobody references).
  private static final List<Logger> QUIETED =
      List.of(Logger.getLogger("dev.weft"), Logger.getLogger("io.grpc"));

  @Spec private CommandSpec spec;

  @Option(
      names = "--workers",
      paramLabel = "N",
      defaultValue = "2",
      description = "Worker processes to start (default: ${DEFAULT-VALUE}).")
  private int workerCount;

  @Option(
      names = "--slots",
      paramLabel = "N",
      description = "Slots per worker (default: the number of cores, here ${DEFAULT-VALUE}).")
  private int slots = Runtime.getRuntime().availableProcessors();

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (workerCount < 1 || workerCount > 64) {
      throw CliException.usage("--workers must be 1..64, got " + workerCount);
    }
    if (slots < 1) {
      throw CliException.usage("--slots must be at least 1, got " + slots);
    }
    QUIETED.forEach(logger -> logger.setLevel(Level.WARNING));
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    long demoStart = System.nanoTime();
    try (DemoCluster cluster = DemoCluster.start(workerCount, slots)) {
      out.printf(
          "weft demo: coordinator %s on %s; %d worker processes with %d slot%s each (pids %s)%n",
          cluster.coordinatorId(),
          cluster.address(),
          workerCount,
          slots,
          slots == 1 ? "" : "s",
          cluster.workerPids());
      out.flush();
      if (!cluster.awaitWorkers(ATTACH_DEADLINE)) {
        err.print(cluster.workerOutput());
        throw new CliException(
            ExitCodes.JOB_FAILED,
            "the worker processes did not attach within "
                + DurationConverter.format(ATTACH_DEADLINE)
                + "; their output is above");
      }
      try (CoordinatorClient client = cluster.client()) {
        BigInteger n = BigInteger.valueOf(SUM_TO);
        boolean sumOk =
            check(
                client,
                String.format(Locale.ROOT, "sum of 1..%,d in %d tasks", SUM_TO, SUM_TASKS),
                JobSpec.newBuilder()
                    .setSum(SumParams.newBuilder().setFrom(1).setTo(SUM_TO))
                    .setTasks(SUM_TASKS)
                    .setName("demo-sum")
                    .build(),
                n.multiply(n.add(BigInteger.ONE)).shiftRight(1).toString(),
                job -> job.getResult().getSum().getSum());
        boolean primesOk =
            check(
                client,
                String.format(
                    Locale.ROOT, "primes in [1, %,d] in %d tasks", PRIMES_TO, PRIMES_TASKS),
                JobSpec.newBuilder()
                    .setPrimes(PrimesParams.newBuilder().setFrom(1).setTo(PRIMES_TO))
                    .setTasks(PRIMES_TASKS)
                    .setName("demo-primes")
                    .build(),
                Long.toString(PRIMES_EXPECTED),
                job -> Long.toString(job.getResult().getPrimes().getCount()));
        out.println("workers:");
        for (WorkerInfo w : client.workers()) {
          out.printf(
              "  %-16s pid %-8d transport %-5s %d tasks done%n",
              w.getId(), w.getPid(), w.getTransport(), w.getTasksDone());
        }
        boolean ok = sumOk && primesOk;
        out.printf(
            "%s in %s%n",
            ok ? "all results match" : "MISMATCH: see above",
            JobReport.seconds(Duration.ofNanos(System.nanoTime() - demoStart)));
        out.flush();
        return ok ? ExitCodes.OK : ExitCodes.JOB_FAILED;
      }
    }
  }

  /** Runs one job to the end and prints its result next to the expected one. */
  private boolean check(
      CoordinatorClient client,
      String title,
      JobSpec spec,
      String expected,
      Function<Job, String> actual)
      throws InterruptedException {
    PrintWriter out = this.spec.commandLine().getOut();
    PrintWriter err = this.spec.commandLine().getErr();
    out.printf("%s ...%n", title);
    out.flush();
    long start = System.nanoTime();
    Job submitted = client.submit(spec);
    boolean interactive = ProgressBar.interactive();
    ProgressBar bar = new ProgressBar(err, System::nanoTime);
    Job job;
    try {
      job =
          new JobWatcher(client, JobWatcher.WATCH_DEADLINE)
              .await(submitted.getId(), interactive ? bar : (done, failed, running, total) -> {});
    } finally {
      bar.clear();
    }
    Duration wall = Duration.ofNanos(System.nanoTime() - start);
    double rate = job.getTasksDone() / Math.max(wall.toNanos() / 1e9, 1e-3);
    if (job.getState() != JobState.SUCCEEDED) {
      out.printf("  %s: %s%n", JobReport.state(job.getState()), job.getError());
      JobReport.finished(out, job);
      return false;
    }
    String value = actual.apply(job);
    boolean ok = value.equals(expected);
    out.printf(
        Locale.ROOT,
        "  %s  %s%s  (%s, %.1f tasks/s)%n",
        value,
        ok ? "OK" : "MISMATCH",
        ok ? "" : ", expected " + expected,
        JobReport.seconds(wall),
        rate);
    out.flush();
    return ok;
  }
}
