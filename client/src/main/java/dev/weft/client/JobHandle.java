package dev.weft.client;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * A submitted job: its id, its result to come, its events, and the means to cancel it. Made by
 * {@link WeftClient#submit} or {@link WeftClient#job}; valid while its client is open. Thread-safe.
 */
public final class JobHandle {
  private final WeftClient client;
  private final Job submitted;
  private CompletableFuture<Job> result; // guarded by this; one watch however often it is asked

  JobHandle(WeftClient client, Job submitted) {
    this.client = client;
    this.submitted = submitted;
  }

  /** The job's id, as the coordinator gave it. */
  public String id() {
    return submitted.getId();
  }

  /** The job as the coordinator answered the submission (or the lookup). */
  public Job submitted() {
    return submitted;
  }

  /** The job as it is now (GetJob). */
  public Job status() {
    return client.get(id());
  }

  /**
   * The job once it has finished. Completes normally when it SUCCEEDED, exceptionally with a {@link
   * JobFailedException} or {@link JobCancelledException} when it did not, or with a {@link
   * WeftException} when no coordinator could be reached to learn its end (an {@link
   * UnavailableException} after the client's patience). A coordinator that goes away or hands over
   * to another is watched again: the job goes on in its journal. Cancelling the returned future
   * stops nothing but that future; cancel the job with {@link #cancel}.
   */
  public CompletableFuture<Job> result() {
    synchronized (this) {
      if (result == null) {
        result = client.watchResult(id());
      }
      return result.copy();
    }
  }

  /**
   * The job's events, from a snapshot of it to the event that finishes it, then {@code onComplete};
   * each subscriber gets a watch of its own. Events are read from the coordinator only as the
   * subscriber requests them, so a slow subscriber slows its stream, not the client. After a
   * coordinator went away, the watch starts again with a fresh snapshot. {@code onError} brings a
   * {@link WeftException}; a {@code cancel} of the subscription ends the watch, not the job.
   */
  public Flow.Publisher<JobEvent> events() {
    return client.events(id(), false);
  }

  /** As {@link #events()}, also with one event per finished task. */
  public Flow.Publisher<JobEvent> eventsWithTasks() {
    return client.events(id(), true);
  }

  /**
   * Cancels the job, giving its running tasks {@code grace} between SIGTERM and SIGKILL (null: the
   * job's own). Returns the job as the cancel left it: CANCELLING while tasks stop, or finished.
   */
  public Job cancel(Duration grace) {
    return client.cancel(id(), grace).getJob();
  }

  @Override
  public String toString() {
    return "JobHandle[" + id() + "]";
  }
}
