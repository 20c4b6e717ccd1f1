package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import dev.weft.v1.Assignments;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.TaskAssignment;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.Consumer;

/**
 * Hands tasks to workers with credit: each free slot to the job {@link FairShare} puts first among
 * those that fit the worker (kind, named workers, labels and free resources), and one {@link
 * Assignments} batch per worker per duty cycle. A worker whose link is not writable is skipped
 * until it is. Conductor thread only.
 *
 * <p>A dispatch visits only the workers that may have room (those whose credit grew since they were
 * last filled), never every attached worker: with thousands attached and a duty cycle per handful
 * of results, a pass over all of them would cost each task a scan of the fleet. A worker left with
 * credit that no queued job fits (the wrong kinds or labels, or only room beyond its slots while
 * the jobs' tasks are not short) is parked: it is visited again when its credit grows, when the
 * jobs change in a way that may fit it ({@link #wakeParked}: a job joins the queue, a task input
 * becomes ready, a job's tasks turn out short), and at the latest at the next lease check, so its
 * cost is bounded by one pass per lease period, not one per task.
 */
final class Dispatcher implements AttachedWorker.SlotUse {
  private static final int MAX_BATCH = 256;
  // Keeps a batch within one shared-memory ring frame and far below gRPC's message limits.
  private static final int MAX_BATCH_BYTES = 1 << 20;

  private final FairShare runnable;
  private final Journal journal;
  private final CoreClock clock;
  private final Consumer<JobRun> jobEnded;
  private long nextAttemptId = 1;
  // Workers that may take more, in the order they got room: each is visited until it has no credit.
  private final LinkedHashSet<AttachedWorker> withRoom = new LinkedHashSet<>();
  // Workers with credit that no queued job fitted when last visited; see wakeParked.
  private final LinkedHashSet<AttachedWorker> parked = new LinkedHashSet<>();
  private final List<AttachedWorker> visiting = new ArrayList<>();

  /**
   * @param jobEnded told of a job that a task input it could not read ended
   */
  Dispatcher(
      Journal journal, CoreClock clock, FairShare.OwnerWeights weights, Consumer<JobRun> jobEnded) {
    this.runnable = new FairShare(weights, clock);
    this.journal = journal;
    this.clock = clock;
    this.jobEnded = jobEnded;
  }

  /** A job with tasks to run joins the back of the queue (once). */
  void requeue(JobRun job) {
    if (job.hasPending() && runnable.queue(job)) {
      wakeParked(); // a job new to the queue may fit workers no other job fitted
    }
  }

  /** Parked workers are visited again at the next dispatch: the jobs changed. */
  void wakeParked() {
    if (!parked.isEmpty()) {
      withRoom.addAll(parked);
      parked.clear();
    }
  }

  void remove(JobRun job) {
    runnable.unqueue(job);
  }

  /** The order of jobs, for preemption and priority changes. */
  FairShare order() {
    return runnable;
  }

  @Override
  public void taken(JobRun job) {
    runnable.taken(job);
  }

  @Override
  public void returned(JobRun job) {
    runnable.returned(job);
  }

  @Override
  public void mayTakeMore(AttachedWorker worker) {
    parked.remove(worker);
    withRoom.add(worker);
  }

  /** The worker is gone: it is never visited again. */
  void forget(AttachedWorker worker) {
    withRoom.remove(worker);
    parked.remove(worker);
  }

  /** How many workers the next dispatch would visit. */
  int workersWithRoom() {
    return withRoom.size();
  }

  /** How many workers with credit wait for a change in the jobs (see {@link #wakeParked}). */
  int workersParked() {
    return parked.size();
  }

  boolean isIdle() {
    return runnable.isEmpty();
  }

  /**
   * Gives every worker with room as many tasks as it has credit for, round-robin over jobs. A
   * worker left with credit because its link is full or the queue ran dry stays to be visited
   * again; one that no queued job fits is parked; one without credit leaves until its credit grows.
   */
  void dispatch() {
    if (runnable.isEmpty() || journal.isBehind()) {
      return; // when the journal is behind, its catching up asks for a dispatch
    }
    // Filling may end jobs, whose side effects must not change the set under the loop.
    visiting.addAll(withRoom);
    try {
      for (AttachedWorker worker : visiting) {
        if (worker.isDetached() || worker.credit() <= 0) {
          withRoom.remove(worker);
          continue;
        }
        if (runnable.isEmpty()) {
          return;
        }
        if (worker.link().isWritable()) {
          boolean fitted = fill(worker);
          if (worker.credit() <= 0) {
            withRoom.remove(worker);
          } else if (!fitted) {
            withRoom.remove(worker);
            parked.add(worker);
          }
        }
      }
    } finally {
      visiting.clear();
    }
  }

  /** Fills the worker's credit; false when it stopped because no queued job fits the worker. */
  private boolean fill(AttachedWorker worker) {
    boolean fitted = true;
    Assignments.Builder batch = null;
    int batchBytes = 0;
    while (worker.credit() > 0) {
      // Credit beyond the worker's slots (its prefetch) queues tasks behind running ones: worth it
      // for short tasks, whose round trips it hides; a long task would wait there while another
      // worker might be free.
      boolean queues = worker.inflight().size() >= worker.slots();
      JobRun job = runnable.pick(candidate -> canRun(worker, candidate, queues));
      if (job == null) {
        fitted = false;
        break;
      }
      int task = job.takeTask();
      ByteString input;
      try {
        input = job.input(task);
      } catch (IOException | RuntimeException e) {
        if (job.fail(task, "cannot read task input: " + e.getMessage(), true, "coordinator")) {
          jobEnded.accept(job);
        } else {
          requeue(job);
        }
        continue;
      }
      long attemptId = nextAttemptId++;
      int[] gpus = worker.capacity().take(job.needs());
      worker.assign(
          attemptId,
          new AttachedWorker.Attempt(job, task, job.attemptOf(task), clock.nanoTime(), gpus));
      job.ranOn(task, worker.nameIndex());
      if (batch == null) {
        batch = Assignments.newBuilder();
      }
      TaskAssignment.Builder assignment =
          TaskAssignment.newBuilder()
              .setAttemptId(attemptId)
              .setJobId(job.id())
              .setTask(task)
              .setAttempt(job.attemptOf(task))
              .setKind(job.kindName())
              .setInput(input)
              .setGraceMs(job.graceMs())
              .setTimeoutMs(job.taskTimeoutMs());
      if (job.needs().holdsResources()) {
        assignment.setResources(job.spec().getResources());
        for (int gpu : gpus) {
          assignment.addGpus(gpu);
        }
      }
      batch.addTasks(assignment);
      batchBytes += input.size();
      if (batch.getTasksCount() >= MAX_BATCH || batchBytes >= MAX_BATCH_BYTES) {
        worker.link().send(CoordinatorMessage.newBuilder().setAssignments(batch).build());
        batch = null;
        batchBytes = 0;
        if (!worker.link().isWritable()) {
          break;
        }
      }
    }
    if (batch != null) {
      worker.link().send(CoordinatorMessage.newBuilder().setAssignments(batch).build());
    }
    return fitted;
  }

  /**
   * Whether {@code worker} may take a task of {@code job} now. Beyond its slots (its prefetch) a
   * worker takes only short tasks that hold no resources: a long task would wait there while
   * another worker might be free, and resources are held from dispatch.
   */
  private static boolean canRun(AttachedWorker worker, JobRun job, boolean onlyShortTasks) {
    return worker.runs(job.kindName())
        && job.mayRunOn(worker.id())
        && (!onlyShortTasks || (job.hasShortTasks() && !job.needs().holdsResources()))
        && job.inputReady()
        && worker.capacity().fitsNow(job.needs());
  }
}
