package dev.weft.client;

import dev.weft.v1.Job;

/**
 * The job ended CANCELLED: {@link #job()} is its final state, with why and how its tasks stopped.
 */
public final class JobCancelledException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Job job;

  JobCancelledException(Job job) {
    super(
        "job "
            + job.getId()
            + " was cancelled"
            + (job.getError().isEmpty() ? "" : ": " + job.getError()));
    this.job = job;
  }

  /** The job as it ended. */
  public Job job() {
    return job;
  }
}
