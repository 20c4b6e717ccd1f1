package dev.weft.worker;

import dev.weft.v1.TaskResult;
import dev.weft.wire.Transport;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Collection;
import java.util.Set;

/**
 * A worker's Prometheus metrics, served by {@link WorkerHttp}: its tasks by kind, its slots, the
 * round trip of its link as it times it, and the JVM's. Slot threads and link readers record
 * concurrently: the client library's metrics are made for that. A registry of its own, not the
 * library's default one, so workers in one JVM (tests) do not mix.
 */
final class WorkerMetrics implements TaskSlots.Tally {
  /** The label of tasks of a kind this worker does not have (they fail at once). */
  static final String OTHER_KIND = "other";

  private static final double[] RUN_BOUNDS_SECONDS = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 1800, 3600
  };
  private static final double[] ROUND_TRIP_BOUNDS_SECONDS = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5
  };

  private final PrometheusRegistry registry = new PrometheusRegistry();
  // Kind names come from assignments: only the worker's own become labels, so they stay few.
  private final Set<String> kinds;
  private final Counter started;
  private final Counter succeeded;
  private final Counter failed;
  private final Counter cancelled;
  private final Histogram runTime;
  private final Histogram roundTrips;

  WorkerMetrics(Collection<String> kindNames) {
    this.kinds = Set.copyOf(kindNames);
    started = counter("weft_worker_tasks_started", "Task attempts this worker started on a slot.");
    succeeded = counter("weft_worker_tasks_succeeded", "Task attempts that succeeded.");
    failed =
        counter(
            "weft_worker_tasks_failed",
            "Task attempts that failed (an error, an exit code, a timeout).");
    cancelled =
        counter("weft_worker_tasks_cancelled", "Task attempts stopped by a cancel while running.");
    runTime =
        Histogram.builder()
            .name("weft_worker_task_run_seconds")
            .help("Task attempts from their start on a slot to their end, by kind.")
            .labelNames("kind")
            .classicOnly()
            .classicUpperBounds(RUN_BOUNDS_SECONDS)
            .register(registry);
    roundTrips =
        Histogram.builder()
            .name("weft_worker_link_round_trip_seconds")
            .help("Round trips of the link to the coordinator, timed on heartbeats, by transport.")
            .labelNames("transport")
            .classicOnly()
            .classicUpperBounds(ROUND_TRIP_BOUNDS_SECONDS)
            .register(registry);
    // Every series from the start, zeros included: one that appears later confuses rate().
    for (String kind : kinds) {
      for (Counter counter : new Counter[] {started, succeeded, failed, cancelled}) {
        counter.initLabelValues(kind);
      }
      runTime.initLabelValues(kind);
    }
    for (Transport transport : Transport.values()) {
      roundTrips.initLabelValues(transport.wireName());
    }
    JvmMetrics.builder().register(registry);
  }

  private Counter counter(String name, String help) {
    return Counter.builder().name(name).help(help).labelNames("kind").register(registry);
  }

  /** Gauges read from {@code slots} at each scrape. */
  void watch(TaskSlots slots) {
    GaugeWithCallback.builder()
        .name("weft_worker_slots")
        .help("Task slots of this worker.")
        .callback(callback -> callback.call(slots.slots()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("weft_worker_slots_busy")
        .help("Slots running a task now, or held by a stuck one.")
        .callback(callback -> callback.call(slots.running() + slots.stuck()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("weft_worker_tasks_queued")
        .help("Tasks accepted and waiting for a slot (the prefetch).")
        .callback(callback -> callback.call(Math.max(0, slots.busy() - slots.running())))
        .register(registry);
  }

  PrometheusRegistry registry() {
    return registry;
  }

  private String label(String kind) {
    return kinds.contains(kind) ? kind : OTHER_KIND;
  }

  @Override
  public void started(String kind) {
    started.labelValues(label(kind)).inc();
  }

  @Override
  public void ended(String kind, TaskResult result, long nanos) {
    String label = label(kind);
    if (result.getOk()) {
      succeeded.labelValues(label).inc();
    } else if (result.getCancelled()) {
      cancelled.labelValues(label).inc();
    } else {
      failed.labelValues(label).inc();
    }
    runTime.labelValues(label).observe(Math.max(0, nanos) / 1e9);
  }

  /** A beat came back over {@code transport} {@code nanos} after it left. */
  void roundTrip(Transport transport, long nanos) {
    roundTrips.labelValues(transport.wireName()).observe(Math.max(0, nanos) / 1e9);
  }
}
