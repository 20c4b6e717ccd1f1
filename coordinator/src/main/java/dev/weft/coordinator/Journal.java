package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What the scheduler records so that a restarted coordinator can resume its jobs. No method blocks:
 * each queues a record and returns at once (the conductor calls them), and records are written in
 * the order they were queued. A new job's record completes a future once it is synced, which is
 * what its submitter's answer waits for; concurrent submissions share one sync.
 */
interface Journal extends AutoCloseable {

  /** Records nothing: a coordinator without a data dir keeps its jobs in memory only. */
  Journal NONE = new Journal() {};

  /**
   * Queues a new job's record. The future completes once it is committed and synced (the job is
   * durable), or fails with a {@link JournalException} when it cannot be (the job must then be
   * refused and stopped).
   */
  default CompletableFuture<Void> submitted(String id, JobSpec spec, int tasks, long createdMs) {
    return CompletableFuture.completedFuture(null);
  }

  /** True when recorded jobs survive a restart (a job submitted during shutdown runs after it). */
  default boolean isDurable() {
    return false;
  }

  /** The job's first task was dispatched. */
  default void started(String id, long startedMs) {}

  /** A task's first successful output, as folded into the job's result. */
  default void succeeded(String id, int task, ByteString output) {}

  /**
   * A task failed for good: its failure, the line that describes it as the job's first failure, and
   * the output it left (may be empty), which the reduction also keeps.
   */
  default void failed(
      String id, int task, ByteString output, TaskFailure failure, String summary) {}

  /**
   * A task's attempt failed and the task runs again: {@code failure} names the task, how many
   * attempts it has had and when it may run again ({@code retry_at}; unset: at once). A restarted
   * coordinator keeps the count, the wait and the failure.
   */
  default void retrying(String id, TaskFailure failure) {}

  /** The job was cancelled or timed out: it ends in {@code target} once its tasks stopped. */
  default void stopping(String id, JobState target, String reason) {}

  /**
   * An admin moved the job to another priority class: {@code spec} is its spec with the new one.
   */
  default void reprioritized(String id, JobSpec spec) {}

  /** The job ended; {@code job} is its final state, kept until it is forgotten. */
  default void finished(Job job) {}

  /** Finished jobs the coordinator no longer keeps. */
  default void forget(List<String> ids) {}

  /** Forgets every job that finished before {@code cutoffMs} (Unix milliseconds). */
  default void forgetFinishedBefore(long cutoffMs) {}

  /**
   * True while records wait to be written beyond the journal's bound: the scheduler then hands out
   * no new tasks until {@code onCaughtUp} (see {@link SqliteJournal#start}) runs.
   */
  default boolean isBehind() {
    return false;
  }

  /**
   * For {@code /metrics}: records not yet committed and how long commits took. Empty for a journal
   * that writes nothing. Any thread.
   */
  default java.util.Optional<Stats> stats() {
    return java.util.Optional.empty();
  }

  /** What {@link #stats} reads: a copy of one instant. */
  record Stats(long backlog, LatencyBuckets commits) {}

  /** Writes what is queued and releases the data dir. */
  @Override
  default void close() {}

  /** Stops at once without writing what is queued: this coordinator no longer leads the journal. */
  default void abandon() {
    close();
  }

  /** One job as the journal last saw it. */
  record SavedJob(
      String id,
      JobSpec spec,
      int tasks,
      long createdMs,
      long startedMs,
      JobState stopTarget,
      String stopReason,
      List<SavedResult> results,
      List<SavedRetry> retries,
      Job finished) {

    boolean isFinished() {
      return finished != null;
    }
  }

  /** A recorded task result: its output, and for a task that failed for good, its failure. */
  record SavedResult(int task, ByteString output, TaskFailure failure, String summary) {
    boolean ok() {
      return failure == null;
    }
  }

  /** A failed attempt whose task was to run again (see {@link #retrying}), oldest first. */
  record SavedRetry(int task, int attempts, long retryAtMs, TaskFailure failure) {}

  /** The journal could not be written or read. */
  final class JournalException extends Exception {
    JournalException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
