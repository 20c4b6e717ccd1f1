package dev.weft.coordinator;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * What clients may hold on the coordinator at once: unfinished jobs, and the tasks of those jobs
 * ("queued tasks": a job's tasks count from its submission until the job ends). A submission that
 * would pass a limit is refused with RESOURCE_EXHAUSTED naming the limit, its value and the flag
 * that raises it; nothing is queued for it. Conductor thread only.
 *
 * <p>The counts live in a {@link Usage}, checked against its limits by {@link #check}: a limit per
 * client (per job owner) is one more {@code Usage} with limits of its own, checked next to the
 * total in {@link #admit}.
 */
final class ClientLimits {
  static final int DEFAULT_MAX_UNFINISHED_JOBS = 10_000;
  // Ten jobs of the largest size allowed (CoordinatorConfig.maxTasksPerJob: 1,000,000): the task
  // state a job keeps (two bytes a task) stays in the tens of megabytes.
  static final long DEFAULT_MAX_QUEUED_TASKS = 10_000_000;
  static final String UNFINISHED_JOBS_FLAG = "--max-unfinished-jobs";
  static final String QUEUED_TASKS_FLAG = "--max-queued-tasks";

  /** What some set of jobs holds: unfinished jobs and their tasks. */
  static final class Usage {
    private int unfinishedJobs;
    private long queuedTasks;

    int unfinishedJobs() {
      return unfinishedJobs;
    }

    long queuedTasks() {
      return queuedTasks;
    }

    private void add(int tasks) {
      unfinishedJobs++;
      queuedTasks += tasks;
    }

    private void release(int tasks) {
      unfinishedJobs--;
      queuedTasks -= tasks;
    }
  }

  private final int maxUnfinishedJobs;
  private final long maxQueuedTasks;
  private final Usage total = new Usage();

  ClientLimits(int maxUnfinishedJobs, long maxQueuedTasks) {
    this.maxUnfinishedJobs = maxUnfinishedJobs;
    this.maxQueuedTasks = maxQueuedTasks;
  }

  /**
   * Counts a new job of {@code tasks} tasks, or throws RESOURCE_EXHAUSTED (counting nothing) when
   * it would pass a limit. Every job admitted is {@link #release}d when it ends.
   */
  void admit(int tasks) {
    check(total, tasks, "this coordinator");
    total.add(tasks);
  }

  /** Counts a job the journal kept across a restart: it was admitted before, so never refused. */
  void restored(int tasks) {
    total.add(tasks);
  }

  /** A job counted by {@link #admit} or {@link #restored} ended. */
  void release(int tasks) {
    total.release(tasks);
  }

  Usage total() {
    return total;
  }

  private void check(Usage usage, int tasks, String holder) {
    if (usage.unfinishedJobs >= maxUnfinishedJobs) {
      throw exhausted(
          "unfinished jobs: "
              + holder
              + " has "
              + usage.unfinishedJobs
              + " unfinished jobs, its limit (max unfinished jobs "
              + maxUnfinishedJobs
              + "); wait for some to finish, cancel some, or start the coordinator with a higher "
              + UNFINISHED_JOBS_FLAG);
    }
    if (usage.queuedTasks + tasks > maxQueuedTasks) {
      throw exhausted(
          "queued tasks: "
              + holder
              + " has "
              + usage.queuedTasks
              + " tasks of unfinished jobs and this job adds "
              + tasks
              + ", past its limit (max queued tasks "
              + maxQueuedTasks
              + "); wait for jobs to finish, or start the coordinator with a higher "
              + QUEUED_TASKS_FLAG);
    }
  }

  private static StatusRuntimeException exhausted(String message) {
    return Status.RESOURCE_EXHAUSTED.withDescription(message).asRuntimeException();
  }
}
