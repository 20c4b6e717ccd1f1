package dev.weft.bench;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.NoopParams;
import dev.weft.v1.RunJobRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.SumParams;
import dev.weft.v1.WatchJobRequest;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigInteger;
import java.time.Duration;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The client side of the bench's client rows. It runs in a process of its own and reaches the
 * coordinator only through its gRPC port, as a user's program would, so what it times includes
 * everything a user waits for: the client's own stack, the network hop, the coordinator's service
 * threads and its journal.
 *
 * <p>It takes commands on its input, one a line, and answers each with one line, {@code ok} and
 * {@code key=value} pairs, or {@code error} and a message (after which it stops):
 *
 * <pre>
 *   workers N TRANSPORT DEADLINE_NS   until N ready workers are on TRANSPORT
 *   warmup MAX_NS                     until the job round trip settles, at most MAX_NS
 *   round SLICE_NS TASKS              one round of every measurement
 *   load TASKS                        big no-op jobs back to back (the swarm rows)
 *   sample                            tasks done by the coordinator's workers, and when
 *   stop DEADLINE_NS                  no more jobs; waits for those in flight and checks them
 * </pre>
 *
 * The end of its input ends it.
 */
public final class ClientProbe {
  static final Duration UNARY_DEADLINE = Duration.ofSeconds(10);
  static final Duration ONE_TASK_DEADLINE = Duration.ofSeconds(30);
  // A job of a million tasks on a slow path takes minutes; beyond this it is stuck, not slow.
  static final Duration BIG_JOB_DEADLINE = Duration.ofMinutes(15);
  static final int IN_FLIGHT = 256;
  static final long SUM_TO = 1_000_000_000L;
  static final int SUM_TASKS = 100;
  // Settled: two warm-up windows in a row whose round trip p50s differ by at most this fraction.
  private static final double SETTLED = 0.10;

  private static final JobSpec ONE_TASK =
      JobSpec.newBuilder().setNoop(NoopParams.getDefaultInstance()).setTasks(1).build();

  private final Channel channel;
  private boolean runJobServed = true; // until the coordinator answers RunJob with UNIMPLEMENTED
  private boolean runJobsServed = true; // the same for RunJobs
  private SwarmLoad load; // while the swarm rows' jobs run

  public ClientProbe(Channel channel) {
    this.channel = channel;
  }

  /** Answers commands from {@code in} on {@code out} until {@code in} ends; 0, or 1 on error. */
  public int serve(BufferedReader in, PrintWriter out) throws IOException, InterruptedException {
    String line;
    while ((line = in.readLine()) != null) {
      String[] words = line.strip().split("\\s+");
      String answer;
      try {
        answer =
            switch (words[0]) {
              case "workers" ->
                  awaitWorkers(Integer.parseInt(words[1]), words[2], Long.parseLong(words[3]));
              case "warmup" -> warmup(Long.parseLong(words[1]));
              case "round" -> round(Long.parseLong(words[1]), Integer.parseInt(words[2]));
              case "load" -> startLoad(Integer.parseInt(words[1]));
              case "sample" -> sampleLoad();
              case "stop" -> stopLoad(Long.parseLong(words[1]));
              default -> throw new IllegalArgumentException("unknown command '" + line + "'");
            };
      } catch (RuntimeException e) {
        out.println("error " + oneLine(e));
        out.flush();
        return 1;
      }
      out.println("ok " + answer);
      out.flush();
    }
    return 0;
  }

  private String startLoad(int tasksPerJob) {
    if (load != null) {
      throw new IllegalStateException("the load runs already");
    }
    load = new SwarmLoad(channel, tasksPerJob);
    load.start();
    return "jobs_in_flight=" + SwarmLoad.JOBS_IN_FLIGHT;
  }

  private String sampleLoad() {
    if (load != null && !load.problems().isEmpty()) {
      throw new IllegalStateException(load.problems());
    }
    return SwarmLoad.sample(channel);
  }

  private String stopLoad(long deadlineNanos) throws InterruptedException {
    if (load == null) {
      throw new IllegalStateException("no load to stop");
    }
    String answer = load.stop(Duration.ofNanos(deadlineNanos));
    load = null;
    return answer;
  }

  private String awaitWorkers(int count, String transport, long deadlineNanos)
      throws InterruptedException {
    long end = System.nanoTime() + deadlineNanos;
    long ready = 0;
    String lastProblem = "";
    while (true) {
      long left = end - System.nanoTime();
      try {
        // This process's first call also connects and loads gRPC, slow on a busy machine: it gets
        // what is left of the wait, not one unary deadline.
        ready =
            jobs(Duration.ofNanos(Math.max(left, UNARY_DEADLINE.toNanos())))
                .listWorkers(ListWorkersRequest.getDefaultInstance())
                .getWorkersList()
                .stream()
                .filter(w -> w.getState().equals("ready") && w.getTransport().equals(transport))
                .count();
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code != Status.Code.UNAVAILABLE && code != Status.Code.DEADLINE_EXCEEDED) {
          throw e;
        }
        lastProblem = "; the coordinator: " + e.getStatus();
      }
      if (ready >= count) {
        return "workers=" + ready;
      }
      if (System.nanoTime() - end > 0) {
        throw new IllegalStateException(
            count
                + " workers on "
                + transport
                + " expected, "
                + ready
                + " ready in time"
                + lastProblem);
      }
      // Workers attach within a second or two; polling every 50 ms costs the coordinator nothing.
      TimeUnit.MILLISECONDS.sleep(50);
    }
  }

  /**
   * Warms the client, the coordinator and the workers (the JIT above all) in windows of every
   * measurement, until the one-task round trip's p50 holds still between two windows, or {@code
   * maxNanos} passed.
   */
  private String warmup(long maxNanos) throws InterruptedException {
    long start = System.nanoTime();
    long window = Math.clamp(maxNanos / 8, TimeUnit.MILLISECONDS.toNanos(250), 2_000_000_000L);
    double previous = Double.NaN;
    boolean settled = false;
    while (maxNanos > 0 && System.nanoTime() - start < maxNanos) {
      LongSamples rtt = new LongSamples();
      jobRoundTrips(window / 2, rtt);
      unaryRoundTrips(window / 4, new LongSamples());
      jobsPerSecond(window / 4);
      double p50 = LongSamples.percentile(rtt.sorted(), 0.5);
      if (Math.abs(p50 - previous) <= SETTLED * previous) {
        settled = true;
        break;
      }
      previous = p50;
    }
    return String.format(
        Locale.ROOT, "warmup_ns=%d settled=%b", System.nanoTime() - start, settled);
  }

  /** Every measurement once, {@code sliceNanos} each for the timed ones. */
  private String round(long sliceNanos, int bigJobTasks) throws InterruptedException {
    LongSamples unary = new LongSamples();
    LongSamples rtt = new LongSamples();
    // Half the bare calls before the jobs and half after, so both see the machine alike.
    unaryRoundTrips(sliceNanos / 2, unary);
    jobRoundTrips(sliceNanos, rtt);
    unaryRoundTrips(sliceNanos / 2, unary);
    double jobsPerS = jobsPerSecond(sliceNanos);
    long start = System.nanoTime();
    Job big =
        runToEnd(
            JobSpec.newBuilder()
                .setNoop(NoopParams.getDefaultInstance())
                .setTasks(bigJobTasks)
                .build(),
            BIG_JOB_DEADLINE);
    double bigTasksPerS = bigJobTasks * 1e9 / (System.nanoTime() - start);
    checkSucceeded(big, bigJobTasks);
    start = System.nanoTime();
    Job sum =
        runToEnd(
            JobSpec.newBuilder()
                .setSum(SumParams.newBuilder().setFrom(1).setTo(SUM_TO))
                .setTasks(SUM_TASKS)
                .build(),
            ONE_TASK_DEADLINE);
    double sumMs = (System.nanoTime() - start) / 1e6;
    checkSucceeded(sum, SUM_TASKS);
    String expected =
        BigInteger.valueOf(SUM_TO)
            .multiply(BigInteger.valueOf(SUM_TO + 1))
            .shiftRight(1)
            .toString();
    if (!sum.getResult().getSum().getSum().equals(expected)) {
      throw new IllegalStateException(
          "sum 1.."
              + SUM_TO
              + " came back "
              + sum.getResult().getSum().getSum()
              + ", not "
              + expected);
    }
    long[] u = unary.sorted();
    long[] r = rtt.sorted();
    return String.format(
        Locale.ROOT,
        "api=%s pipeline_api=%s unary_p50_ns=%.0f unary_p99_ns=%.0f unary_samples=%d"
            + " rtt_p50_ns=%.0f rtt_p99_ns=%.0f rtt_samples=%d jobs_per_s=%.1f"
            + " big_tasks_per_s=%.1f sum_ms=%.2f sum=%s",
        runJobServed ? "RunJob" : "SubmitJob+WatchJob",
        runJobsServed ? "RunJobs" : "SubmitJob+WatchJob",
        LongSamples.percentile(u, 0.5),
        LongSamples.percentile(u, 0.99),
        u.length,
        LongSamples.percentile(r, 0.5),
        LongSamples.percentile(r, 0.99),
        r.length,
        jobsPerS,
        bigTasksPerS,
        sumMs,
        sum.getResult().getSum().getSum());
  }

  /** The reference: a bare unary call that does no work (grpc.health.v1 Check). */
  private void unaryRoundTrips(long nanos, LongSamples into) {
    HealthCheckRequest request = HealthCheckRequest.getDefaultInstance();
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      long start = System.nanoTime();
      HealthGrpc.newBlockingStub(channel)
          .withDeadlineAfter(UNARY_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
          .check(request);
      into.add(System.nanoTime() - start);
    }
  }

  /** One-task jobs back to back, each submitted and followed to its end. */
  private void jobRoundTrips(long nanos, LongSamples into) throws InterruptedException {
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      long start = System.nanoTime();
      Job job = runToEnd(ONE_TASK, ONE_TASK_DEADLINE);
      into.add(System.nanoTime() - start);
      checkSucceeded(job, 1);
      if (Thread.interrupted()) {
        throw new InterruptedException("bench client interrupted");
      }
    }
  }

  /** One-task jobs per second with {@link #IN_FLIGHT} unfinished at any time, for {@code nanos}. */
  private double jobsPerSecond(long nanos) throws InterruptedException {
    Duration deadline = Duration.ofNanos(nanos).plus(ONE_TASK_DEADLINE);
    if (runJobsServed) {
      try {
        return new RunJobsPipeline(ONE_TASK, IN_FLIGHT, nanos).run(channel, deadline);
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
          throw e;
        }
        runJobsServed = false;
      }
    }
    return new SubmitWatchPipeline(ONE_TASK, IN_FLIGHT, nanos).run(channel, deadline);
  }

  /**
   * Submits {@code spec} and follows the job to its end: RunJob, or SubmitJob then WatchJob. The
   * call is cancelled once the job has finished, as {@code weft submit --wait} does, rather than
   * read to its end.
   */
  private Job runToEnd(JobSpec spec, Duration deadline) {
    Context.CancellableContext call = Context.current().withCancellation();
    Context previous = call.attach();
    try {
      if (runJobServed) {
        try {
          Iterator<JobEvent> events =
              jobs(deadline).runJob(RunJobRequest.newBuilder().setSpec(spec).build());
          return finished(events, "RunJob");
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
            throw e;
          }
          runJobServed = false;
        }
      }
      Job submitted =
          jobs(UNARY_DEADLINE).submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
      return finished(
          jobs(deadline).watchJob(WatchJobRequest.newBuilder().setId(submitted.getId()).build()),
          "WatchJob");
    } finally {
      call.detach(previous);
      call.cancel(null);
    }
  }

  /** The job from the event that finishes it. */
  private static Job finished(Iterator<JobEvent> events, String rpc) {
    while (events.hasNext()) {
      JobEvent event = events.next();
      if (event.hasFinished()) {
        return event.getFinished();
      }
      if (event.hasSnapshot() && isFinal(event.getSnapshot().getState())) {
        return event.getSnapshot();
      }
    }
    throw new IllegalStateException(rpc + " ended before its job finished");
  }

  private JobServiceGrpc.JobServiceBlockingStub jobs(Duration deadline) {
    return JobServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  static boolean isFinal(JobState state) {
    return state == JobState.SUCCEEDED || state == JobState.FAILED || state == JobState.CANCELLED;
  }

  static void checkSucceeded(Job job, int tasks) {
    if (job.getState() != JobState.SUCCEEDED || job.getTasksDone() != tasks) {
      throw new IllegalStateException(
          "bench job "
              + job.getId()
              + " ended "
              + job.getState()
              + " with "
              + job.getTasksDone()
              + " of "
              + tasks
              + " tasks done"
              + (job.getError().isEmpty() ? "" : ": " + job.getError()));
    }
  }

  private static String oneLine(Throwable e) {
    String message =
        e instanceof StatusRuntimeException s ? s.getStatus().toString() : e.getMessage();
    return (e.getClass().getSimpleName() + ": " + message).replaceAll("\\s*\\R\\s*", "; ");
  }
}
