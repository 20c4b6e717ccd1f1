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

  private static final Transport[] TRANSPORTS = Transport.values();

  long submitted;
  long started;
  long succeeded;
  long failed;
  long retried;
  long cancelled;
  long preempted;
  // Per transport (by ordinal): attempts per bucket (not cumulative), and their summed seconds.
  final long[][] durationBuckets = new long[TRANSPORTS.length][DURATION_BOUNDS_SECONDS.length + 1];
  final double[] durationSumSeconds = new double[TRANSPORTS.length];

  /** An attempt on {@code transport} answered {@code nanos} after its dispatch. */
  void took(Transport transport, long nanos) {
    double seconds = nanos / 1e9;
    int bucket = 0;
    while (bucket < DURATION_BOUNDS_SECONDS.length && seconds > DURATION_BOUNDS_SECONDS[bucket]) {
      bucket++;
    }
    durationBuckets[transport.ordinal()][bucket]++;
    durationSumSeconds[transport.ordinal()] += seconds;
  }

  static Transport transport(int ordinal) {
    return TRANSPORTS[ordinal];
  }

  /** A copy another thread may read. */
  TaskCounts copy() {
    TaskCounts copy = new TaskCounts();
    copy.submitted = submitted;
    copy.started = started;
    copy.succeeded = succeeded;
    copy.failed = failed;
    copy.retried = retried;
    copy.cancelled = cancelled;
    copy.preempted = preempted;
    for (int t = 0; t < durationBuckets.length; t++) {
      System.arraycopy(
          durationBuckets[t], 0, copy.durationBuckets[t], 0, durationBuckets[t].length);
      copy.durationSumSeconds[t] = durationSumSeconds[t];
    }
    return copy;
  }
}
