package dev.weft.bench;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.NoopParams;
import dev.weft.v1.RunJobRequest;
import dev.weft.v1.WorkerInfo;
import io.grpc.Channel;
import io.grpc.Context;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The client's side of the swarm rows: big no-op jobs back to back, {@link #JOBS_IN_FLIGHT} at a
 * time so the workers never wait between two jobs, each followed with RunJob and checked when it
 * ends (succeeded, every task done once, the reduction's count exact). Throughput is read from the
 * coordinator, not from job boundaries: the sum of its workers' tasks done, sampled at both ends of
 * a window the bench chooses.
 */
final class SwarmLoad {
  static final int JOBS_IN_FLIGHT = 2;
  static final Duration UNARY_DEADLINE = Duration.ofSeconds(30);

  private final Channel channel;
  private final int tasksPerJob;
  private final List<Thread> submitters = new ArrayList<>();
  private final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
  private final AtomicLong jobsChecked = new AtomicLong();
  private final AtomicLong tasksChecked = new AtomicLong();
  private volatile boolean stopping;

  SwarmLoad(Channel channel, int tasksPerJob) {
    this.channel = channel;
    this.tasksPerJob = tasksPerJob;
  }

  void start() {
    for (int i = 1; i <= JOBS_IN_FLIGHT; i++) {
      submitters.add(Thread.ofPlatform().daemon().name("swarm-load-" + i).start(this::submitLoop));
    }
  }

  private void submitLoop() {
    JobSpec spec =
        JobSpec.newBuilder()
            .setNoop(NoopParams.getDefaultInstance())
            .setTasks(tasksPerJob)
            .setName("swarm-bench")
            .build();
    while (!stopping) {
      try {
        Job job = run(spec);
        ClientProbe.checkSucceeded(job, tasksPerJob);
        long counted = job.getResult().getCount().getTasks();
        if (counted != tasksPerJob) {
          throw new IllegalStateException(
              "job " + job.getId() + " counted " + counted + " tasks, not " + tasksPerJob);
        }
        jobsChecked.incrementAndGet();
        tasksChecked.addAndGet(counted);
      } catch (RuntimeException e) {
        problems.add(e.getClass().getSimpleName() + ": " + e.getMessage());
        return;
      }
    }
  }

  private Job run(JobSpec spec) {
    Context.CancellableContext call = Context.current().withCancellation();
    Context previous = call.attach();
    try {
      Iterator<JobEvent> events =
          JobServiceGrpc.newBlockingStub(channel)
              .withDeadlineAfter(ClientProbe.BIG_JOB_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
              .runJob(RunJobRequest.newBuilder().setSpec(spec).build());
      while (events.hasNext()) {
        JobEvent event = events.next();
        if (event.hasFinished()) {
          return event.getFinished();
        }
        if (event.hasSnapshot() && ClientProbe.isFinal(event.getSnapshot().getState())) {
          return event.getSnapshot();
        }
      }
      throw new IllegalStateException("RunJob ended before its job finished");
    } finally {
      call.detach(previous);
      call.cancel(null);
    }
  }

  /** The coordinator's count of tasks its ready workers have done, and of those workers. */
  static String sample(Channel channel) {
    long start = System.nanoTime();
    List<WorkerInfo> workers =
        JobServiceGrpc.newBlockingStub(channel)
            .withDeadlineAfter(UNARY_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
            .listWorkers(ListWorkersRequest.getDefaultInstance())
            .getWorkersList();
    long end = System.nanoTime();
    long done = 0;
    long ready = 0;
    for (WorkerInfo worker : workers) {
      done += worker.getTasksDone();
      if (worker.getState().equals("ready")) {
        ready++;
      }
    }
    // The middle of the call stands for when the coordinator answered.
    return String.format(
        Locale.ROOT, "tasks_done=%d ready=%d at_ns=%d", done, ready, start + (end - start) / 2);
  }

  /**
   * Stops submitting and waits for the jobs in flight to end, at most {@code deadline}; answers how
   * many jobs and tasks were checked, or fails with what went wrong.
   */
  String stop(Duration deadline) throws InterruptedException {
    stopping = true;
    long end = System.nanoTime() + deadline.toNanos();
    for (Thread thread : submitters) {
      long left = end - System.nanoTime();
      if (left <= 0 || !thread.join(Duration.ofNanos(left))) {
        throw new IllegalStateException("the jobs in flight did not end within " + deadline);
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalStateException(String.join("; ", problems));
    }
    return String.format(
        Locale.ROOT, "jobs_checked=%d tasks_checked=%d", jobsChecked.get(), tasksChecked.get());
  }

  /** What went wrong so far, empty when nothing did. */
  String problems() {
    return String.join("; ", problems);
  }
}
