package dev.weft.coordinator;

import dev.weft.wire.Transport;

/**
 * What the coordinator's tasks have done since it started, for {@code /metrics}: plain fields the
 * conductor increments as tasks move, and a histogram of attempt durations per transport kept as
 * bucket counts. Written and read on the conductor only (a scrape asks it for a {@link #copy}), so
 * counting costs an increment, with no lock and no allocation.
 */
final class TaskCounts {
  /** Upper bounds of the duration buckets, in seconds; the last bucket is +Inf. */
  static final double[] DURATION_BOUNDS_SECONDS = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800, 3600
  };

  long submitted;
  long started;
  long succeeded;
  long failed;
  long retried;
  long cancelled;
  long preempted;
  final TransportHistogram durations;

  TaskCounts() {
    this(new TransportHistogram(DURATION_BOUNDS_SECONDS));
  }

  private TaskCounts(TransportHistogram durations) {
    this.durations = durations;
  }

  /** An attempt on {@code transport} answered {@code nanos} after its dispatch. */
  void took(Transport transport, long nanos) {
    durations.observe(transport, nanos);
  }

  /** A copy another thread may read. */
  TaskCounts copy() {
    TaskCounts copy = new TaskCounts(durations.copy());
    copy.submitted = submitted;
    copy.started = started;
    copy.succeeded = succeeded;
    copy.failed = failed;
    copy.retried = retried;
    copy.cancelled = cancelled;
    copy.preempted = preempted;
    return copy;
  }
}
