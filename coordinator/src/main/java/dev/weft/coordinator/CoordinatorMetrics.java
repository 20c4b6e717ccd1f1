package dev.weft.coordinator;

import dev.weft.v1.JobState;
import dev.weft.v1.WorkerInfo;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The coordinator's Prometheus metrics: one ask of the conductor per scrape gives the task counters
 * ({@link TaskCounts}), the link round trips and the gauges of jobs, tasks, workers and slots, all
 * of one instant; the journal answers for itself, from its writer's side, and the JVM's metrics
 * come from the client library. A registry of its own, not the library's default one, so two
 * coordinators in one JVM (tests) do not mix.
 */
final class CoordinatorMetrics implements MultiCollector {

  private final Conductor conductor;
  private final Scheduler scheduler;
  private final Journal journal;
  private final long askTimeoutMs;
  private final PrometheusRegistry registry = new PrometheusRegistry();

  CoordinatorMetrics(Conductor conductor, Scheduler scheduler, Journal journal, long askTimeoutMs) {
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.journal = journal;
    this.askTimeoutMs = askTimeoutMs;
    registry.register(this);
    JvmMetrics.builder().register(registry);
  }

  PrometheusRegistry registry() {
    return registry;
  }

  /**
   * Thrown by a scrape when the conductor did not answer in time: the endpoint says so rather than
   * serve numbers of no particular instant.
   */
  static final class Unanswered extends RuntimeException {
    Unanswered(String message, Throwable cause) {
      super(message, cause);
    }
  }

  @Override
  public MetricSnapshots collect() {
    Scheduler.Gauges gauges;
    try {
      gauges = conductor.ask(scheduler::gauges).get(askTimeoutMs, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Unanswered("interrupted while asking the coordinator for its metrics", e);
    } catch (ExecutionException e) {
      throw new Unanswered("the coordinator failed to gather its metrics", e.getCause());
    } catch (TimeoutException e) {
      throw new Unanswered(
          "the coordinator did not answer within " + askTimeoutMs + " ms; it may be overloaded", e);
    }
    TaskCounts counts = gauges.counts();
    List<MetricSnapshot> metrics = new ArrayList<>();
    metrics.add(counter("weft_tasks_submitted", "Tasks of submitted jobs.", counts.submitted));
    metrics.add(
        counter("weft_tasks_started", "Task attempts dispatched to a worker.", counts.started));
    metrics.add(counter("weft_tasks_succeeded", "Tasks that succeeded.", counts.succeeded));
    metrics.add(
        counter("weft_tasks_failed", "Tasks that failed for good (retries spent).", counts.failed));
    metrics.add(
        counter("weft_tasks_retried", "Failed attempts whose task runs again.", counts.retried));
    metrics.add(
        counter(
            "weft_tasks_cancelled",
            "Running attempts stopped by a cancel or a job timeout.",
            counts.cancelled));
    metrics.add(
        counter(
            "weft_tasks_preempted",
            "Running attempts stopped for a job of a higher priority class.",
            counts.preempted));
    metrics.add(jobsByState(gauges.jobsByState()));
    metrics.add(
        gauge("weft_tasks_queued", "Tasks waiting to be dispatched.", gauges.queuedTasks()));
    metrics.add(gauge("weft_tasks_running", "Task attempts running now.", gauges.runningTasks()));
    workers(gauges.workers(), metrics);
    metrics.add(
        counts.durations.snapshot(
            "weft_task_duration_seconds",
            "Task attempts from dispatch to result, by the transport of their worker."));
    metrics.add(
        gauges
            .roundTrips()
            .snapshot(
                "weft_link_round_trip_seconds",
                "Round trips of the links to workers, timed on heartbeats, by transport."));
    journal.stats().ifPresent(stats -> journal(stats, metrics));
    return new MetricSnapshots(metrics);
  }

  private static CounterSnapshot counter(String name, String help, long value) {
    return CounterSnapshot.builder()
        .name(name)
        .help(help)
        .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().value(value).build())
        .build();
  }

  private static GaugeSnapshot gauge(String name, String help, double value) {
    return GaugeSnapshot.builder()
        .name(name)
        .help(help)
        .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(value).build())
        .build();
  }

  /** Every state, zeros included: a series that comes and goes confuses rate() and alerts. */
  private static GaugeSnapshot jobsByState(Map<JobState, Integer> byState) {
    GaugeSnapshot.Builder jobs =
        GaugeSnapshot.builder().name("weft_jobs").help("Jobs the coordinator knows, by state.");
    for (JobState state : JobState.values()) {
      if (state == JobState.JOB_STATE_UNSPECIFIED || state == JobState.UNRECOGNIZED) {
        continue;
      }
      jobs.dataPoint(
          GaugeSnapshot.GaugeDataPointSnapshot.builder()
              .labels(Labels.of("state", state.name().toLowerCase(Locale.ROOT)))
              .value(byState.getOrDefault(state, 0))
              .build());
    }
    return jobs.build();
  }

  private static void workers(List<WorkerInfo> workers, List<MetricSnapshot> metrics) {
    Map<List<String>, Integer> byTransportAndState = new TreeMap<>(CoordinatorMetrics::compare);
    long slots = 0;
    long busy = 0;
    for (WorkerInfo worker : workers) {
      byTransportAndState.merge(List.of(worker.getTransport(), worker.getState()), 1, Integer::sum);
      slots += worker.getSlots();
      busy += worker.getBusy();
    }
    GaugeSnapshot.Builder byKind =
        GaugeSnapshot.builder()
            .name("weft_workers")
            .help("Attached workers, by transport and state.");
    byTransportAndState.forEach(
        (key, count) ->
            byKind.dataPoint(
                GaugeSnapshot.GaugeDataPointSnapshot.builder()
                    .labels(Labels.of("transport", key.get(0), "state", key.get(1)))
                    .value(count)
                    .build()));
    metrics.add(byKind.build());
    metrics.add(gauge("weft_slots", "Task slots of the attached workers.", slots));
    metrics.add(gauge("weft_slots_busy", "Task slots running a task now.", busy));
  }

  private static int compare(List<String> a, List<String> b) {
    int first = a.get(0).compareTo(b.get(0));
    return first != 0 ? first : a.get(1).compareTo(b.get(1));
  }

  private static void journal(Journal.Stats stats, List<MetricSnapshot> metrics) {
    metrics.add(
        HistogramSnapshot.builder()
            .name("weft_journal_commit_seconds")
            .help("Group commits of the journal that succeeded, by how long they took.")
            .dataPoint(stats.commits().point(Labels.EMPTY))
            .build());
    metrics.add(
        gauge(
            "weft_journal_backlog",
            "Journal records queued or being committed, not yet committed.",
            stats.backlog()));
  }
}
