package dev.weft.coordinator;

import dev.weft.wire.Transport;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;

/**
 * A histogram with one series per link transport, every transport present (zeros included: a series
 * that comes and goes confuses rate()). Owned as {@link LatencyBuckets} is: one thread records,
 * scrapes read a {@link #copy}.
 */
final class TransportHistogram {
  private static final Transport[] TRANSPORTS = Transport.values();

  private final LatencyBuckets[] byTransport = new LatencyBuckets[TRANSPORTS.length];

  TransportHistogram(double[] boundsSeconds) {
    for (int t = 0; t < byTransport.length; t++) {
      byTransport[t] = new LatencyBuckets(boundsSeconds);
    }
  }

  private TransportHistogram(TransportHistogram from) {
    for (int t = 0; t < byTransport.length; t++) {
      byTransport[t] = from.byTransport[t].copy();
    }
  }

  void observe(Transport transport, long nanos) {
    byTransport[transport.ordinal()].observe(nanos);
  }

  LatencyBuckets of(Transport transport) {
    return byTransport[transport.ordinal()];
  }

  TransportHistogram copy() {
    return new TransportHistogram(this);
  }

  HistogramSnapshot snapshot(String name, String help) {
    HistogramSnapshot.Builder histogram = HistogramSnapshot.builder().name(name).help(help);
    for (int t = 0; t < byTransport.length; t++) {
      histogram.dataPoint(byTransport[t].point(Labels.of("transport", TRANSPORTS[t].wireName())));
    }
    return histogram.build();
  }
}
