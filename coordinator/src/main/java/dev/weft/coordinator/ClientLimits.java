package dev.weft.coordinator;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * What clients may hold on the coordinator at once: unfinished jobs, and the tasks of those jobs
 * ("queued tasks": a job's tasks count from its submission until the job ends). A submission that
 * would pass a limit is refused with RESOURCE_EXHAUSTED naming the limit, its value and the flag
 * that raises it; nothing is queued for it. Conductor thread only.
 *
 * <p>The counts live in {@link Usage}s: one for the whole coordinator, and one per job owner (the
 * client token's name) with lower limits of its own, so that one client cannot take all the room.
 */
final class ClientLimits {
  static final int DEFAULT_MAX_UNFINISHED_JOBS = 10_000;
  // Ten jobs of the largest size allowed (CoordinatorConfig.maxTasksPerJob: 1,000,000): the task
  // state a job keeps (two bytes a task) stays in the tens of megabytes.
  static final long DEFAULT_MAX_QUEUED_TASKS = 10_000_000;
  static final String UNFINISHED_JOBS_FLAG = "--max-unfinished-jobs";
  static final String QUEUED_TASKS_FLAG = "--max-queued-tasks";
  static final int DEFAULT_MAX_UNFINISHED_JOBS_PER_OWNER = 1_000;
  static final long DEFAULT_MAX_QUEUED_TASKS_PER_OWNER = 2_000_000;
  static final String UNFINISHED_JOBS_PER_OWNER_FLAG = "--max-unfinished-jobs-per-owner";
  static final String QUEUED_TASKS_PER_OWNER_FLAG = "--max-queued-tasks-per-owner";

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

  /** The most some holder may have, and the flags that raise it. */
  private record Limit(int jobs, long tasks, String jobsFlag, String tasksFlag) {}

  private final Limit total;
  private final Limit perOwner;
  private final Usage totalUsage = new Usage();
  private final java.util.Map<String, Usage> byOwner = new java.util.HashMap<>();

  ClientLimits(
      int maxUnfinishedJobs,
      long maxQueuedTasks,
      int maxUnfinishedJobsPerOwner,
      long maxQueuedTasksPerOwner) {
    this.total =
        new Limit(maxUnfinishedJobs, maxQueuedTasks, UNFINISHED_JOBS_FLAG, QUEUED_TASKS_FLAG);
    this.perOwner =
        new Limit(
            maxUnfinishedJobsPerOwner,
            maxQueuedTasksPerOwner,
            UNFINISHED_JOBS_PER_OWNER_FLAG,
            QUEUED_TASKS_PER_OWNER_FLAG);
  }

  /**
   * Counts a new job of {@code tasks} tasks, or throws RESOURCE_EXHAUSTED (counting nothing) when
   * it would pass a limit. Every job admitted is {@link #release}d when it ends.
   */
  void admit(String owner, int tasks) {
    check(totalUsage, total, tasks, "this coordinator");
    Usage own = byOwner.get(owner);
    if (own != null) {
      check(own, perOwner, tasks, "owner '" + owner + "'");
    } else {
      check(new Usage(), perOwner, tasks, "owner '" + owner + "'");
    }
    add(owner, tasks);
  }

  /** Counts a job the journal kept across a restart: it was admitted before, so never refused. */
  void restored(String owner, int tasks) {
    add(owner, tasks);
  }

  /** A job counted by {@link #admit} or {@link #restored} ended. */
  void release(String owner, int tasks) {
    totalUsage.release(tasks);
    Usage own = byOwner.get(owner);
    if (own != null) {
      own.release(tasks);
      if (own.unfinishedJobs <= 0) {
        byOwner.remove(owner);
      }
    }
  }

  private void add(String owner, int tasks) {
    totalUsage.add(tasks);
    byOwner.computeIfAbsent(owner, o -> new Usage()).add(tasks);
  }

  Usage total() {
    return totalUsage;
  }

  private static void check(Usage usage, Limit limit, int tasks, String holder) {
    int maxUnfinishedJobs = limit.jobs();
    long maxQueuedTasks = limit.tasks();
    if (usage.unfinishedJobs >= maxUnfinishedJobs) {
      throw exhausted(
          "unfinished jobs: "
              + holder
              + " has "
              + usage.unfinishedJobs
              + " unfinished jobs, its limit (max unfinished jobs "
              + maxUnfinishedJobs
              + "); wait for some to finish, cancel some, or start the coordinator with a higher "
              + limit.jobsFlag());
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
              + limit.tasksFlag());
    }
  }

  private static StatusRuntimeException exhausted(String message) {
    return Status.RESOURCE_EXHAUSTED.withDescription(message).asRuntimeException();
  }
}
