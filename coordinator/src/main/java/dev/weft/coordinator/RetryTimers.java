package dev.weft.coordinator;

/**
 * Where a job's delayed retries wait: the conductor's timers, and whoever must hear that a task is
 * ready to run again (the scheduler queues the job for dispatch). Conductor thread only.
 */
interface RetryTimers {

  /** Runs {@code action} on the conductor after {@code delayMs}. */
  Conductor.Timer schedule(long delayMs, Runnable action);

  /** A task of {@code job} waited out its retry delay: the job has a task to hand out again. */
  void due(JobRun job);
}
