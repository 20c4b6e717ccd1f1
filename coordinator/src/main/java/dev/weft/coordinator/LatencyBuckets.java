package dev.weft.coordinator;

import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import java.util.Arrays;

/**
 * One histogram series kept as plain bucket counts, turned into a Prometheus data point only when
 * scraped. Not thread-safe: its owner (the conductor, or the journal under its lock) records into
 * it and hands a {@link #copy} to the scrape, so recording costs a few comparisons and an
 * increment, with no allocation.
 */
final class LatencyBuckets {
  private final double[] boundsSeconds;
  // Per bucket, not cumulative; the last one is +Inf.
  private final long[] counts;
  private double sumSeconds;

  /**
   * @param boundsSeconds the buckets' upper bounds in seconds, ascending, without +Inf
   */
  LatencyBuckets(double[] boundsSeconds) {
    for (int i = 1; i < boundsSeconds.length; i++) {
      if (!(boundsSeconds[i] > boundsSeconds[i - 1])) {
        throw new IllegalArgumentException(
            "bucket bounds must ascend, got " + Arrays.toString(boundsSeconds));
      }
    }
    this.boundsSeconds = boundsSeconds.clone();
    this.counts = new long[boundsSeconds.length + 1];
  }

  private LatencyBuckets(LatencyBuckets from) {
    this.boundsSeconds = from.boundsSeconds;
    this.counts = from.counts.clone();
    this.sumSeconds = from.sumSeconds;
  }

  /** Counts one observation of {@code nanos}; a negative one (a clock that went back) as zero. */
  void observe(long nanos) {
    double seconds = Math.max(0, nanos) / 1e9;
    int bucket = 0;
    while (bucket < boundsSeconds.length && seconds > boundsSeconds[bucket]) {
      bucket++;
    }
    counts[bucket]++;
    sumSeconds += seconds;
  }

  long count() {
    long count = 0;
    for (long c : counts) {
      count += c;
    }
    return count;
  }

  double sumSeconds() {
    return sumSeconds;
  }

  /** A copy another thread may read. */
  LatencyBuckets copy() {
    return new LatencyBuckets(this);
  }

  HistogramSnapshot.HistogramDataPointSnapshot point(Labels labels) {
    double[] bounds = Arrays.copyOf(boundsSeconds, boundsSeconds.length + 1);
    bounds[bounds.length - 1] = Double.POSITIVE_INFINITY;
    return HistogramSnapshot.HistogramDataPointSnapshot.builder()
        .classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, counts))
        .sum(sumSeconds)
        .labels(labels)
        .build();
  }
}
