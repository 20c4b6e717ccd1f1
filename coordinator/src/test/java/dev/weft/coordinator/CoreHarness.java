package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskContext;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Heartbeat;
import dev.weft.v1.Hello;
import dev.weft.v1.HostIdentity;
import dev.weft.v1.JobSpec;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import dev.weft.wire.Transport;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * The coordinator's core driven by hand, for tests and the scheduler bench: a {@link Conductor}
 * whose clocks the caller sets, a {@link Scheduler} on it, and workers whose links record what they
 * are sent and answer only when told. No sockets, no threads, no waiting.
 */
final class CoreHarness implements AutoCloseable {
  static final long HEARTBEAT_MS = 1_000;
  static final long LEASE_MS = 4_000;

  private long nanos = 1_000_000_000L;
  private long epochMs = 1_800_000_000_000L;
  final Conductor conductor;
  final Scheduler scheduler;
  private final JobIntake intake;
  private final JobKinds kinds;
  private final List<Link> links = new ArrayList<>();
  private final ScheduledThreadPoolExecutor signals = new ScheduledThreadPoolExecutor(1);

  CoreHarness(UnaryOperator<CoordinatorConfig> configure) {
    CoordinatorConfig config =
        configure
            .apply(
                new CoordinatorConfig()
                    .heartbeatIntervalMs(HEARTBEAT_MS)
                    .leaseMs(LEASE_MS)
                    .nanoClock(() -> nanos)
                    .epochClock(() -> epochMs))
            .conclude();
    conductor = new Conductor(config.nanoClock(), config.epochClock());
    kinds = JobKinds.load(CoreHarness.class.getClassLoader());
    intake = new JobIntake(kinds, config.maxTasksPerJob(), ReadableRoots.of(config));
    // Lost workers here are not processes of this host: nothing is ever signalled.
    scheduler =
        new Scheduler(config, "c0ffee", kinds, conductor, Runnable::run, signals, Journal.NONE);
    scheduler.startTimers();
    cycle();
  }

  @Override
  public void close() {
    signals.shutdownNow();
  }

  /** One duty cycle at the current time. */
  void cycle() {
    conductor.doWork();
  }

  /**
   * Moves time forward by {@code ms}, running a duty cycle every quarter heartbeat on the way;
   * attached workers beat on every step, so only a test's own silence loses one.
   */
  void advance(long ms) {
    long step = Math.min(ms, HEARTBEAT_MS / 4);
    for (long passed = 0; passed < ms; passed += step) {
      long by = Math.min(step, ms - passed);
      nanos += TimeUnit.MILLISECONDS.toNanos(by);
      epochMs += by;
      for (Link link : links) {
        if (link.closedWith == null) {
          scheduler.heartbeat(link.worker, Heartbeat.getDefaultInstance());
        }
      }
      cycle();
    }
  }

  /** Submits {@code spec} as the coordinator's endpoint would, after its checks. */
  String submit(JobSpec spec) {
    String id = scheduler.submit(intake.plan(spec)).job().id();
    cycle();
    return id;
  }

  static Hello.Builder hello(String id, int slots) {
    return Hello.newBuilder()
        .setWorkerId(id)
        .setSlots(slots)
        .addKinds("sum")
        .addKinds("noop")
        .addKinds("sleep")
        .setHost(HostIdentity.newBuilder().setHostname("elsewhere"));
  }

  /** Attaches a worker that announces {@code credit} slots of credit. */
  Link attach(Hello hello, int credit) {
    Link link = new Link();
    links.add(link);
    link.worker = scheduler.attach(hello, link);
    scheduler.credit(link.worker, credit);
    cycle();
    return link;
  }

  Link attach(String id, int slots) {
    return attach(hello(id, slots).build(), slots);
  }

  /** Answers these attempts with their kind's real output, as a worker would. */
  void succeed(Link link, List<TaskAssignment> tasks) {
    List<TaskResult> results = new ArrayList<>();
    for (TaskAssignment task : tasks) {
      JobKind kind = kinds.find(task.getKind()).orElseThrow();
      ByteString output;
      try {
        output = kind.run(task.getInput(), NOT_CANCELLED);
      } catch (Exception e) {
        throw new AssertionError("kind " + task.getKind() + " failed in the harness", e);
      }
      results.add(
          TaskResult.newBuilder()
              .setAttemptId(task.getAttemptId())
              .setOk(true)
              .setOutput(output)
              .build());
      link.running.remove(task.getAttemptId());
    }
    scheduler.results(link.worker, results);
    cycle();
  }

  /** Answers the cancel of these attempts: they stopped. */
  void stopped(Link link, List<Long> attemptIds) {
    List<TaskResult> results = new ArrayList<>();
    for (long id : attemptIds) {
      results.add(
          TaskResult.newBuilder()
              .setAttemptId(id)
              .setCancelled(true)
              .setStop(StopOutcome.EXITED_ON_TERM)
              .build());
      link.running.remove(id);
    }
    scheduler.results(link.worker, results);
    cycle();
  }

  private static final TaskContext NOT_CANCELLED =
      new TaskContext() {
        @Override
        public boolean isCancelled() {
          return false;
        }

        @Override
        public void onCancel(Runnable action) {}

        @Override
        public long graceMs() {
          return 0;
        }
      };

  /** A worker's link: records what the coordinator sends and which attempts it holds. */
  static final class Link implements WorkerLink {
    final List<CoordinatorMessage> sent = new ArrayList<>();
    // Attempts assigned and not yet answered, in the order they came.
    final Map<Long, TaskAssignment> running = new LinkedHashMap<>();
    AttachedWorker worker;
    String closedWith;
    // A bench's links keep only what runs, not every message ever sent.
    boolean keepsHistory = true;

    /** Every assignment ever sent. */
    List<TaskAssignment> assignments() {
      List<TaskAssignment> tasks = new ArrayList<>();
      for (CoordinatorMessage message : sent) {
        if (message.hasAssignments()) {
          tasks.addAll(message.getAssignments().getTasksList());
        }
      }
      return tasks;
    }

    /** Attempt ids the coordinator asked to stop. */
    List<Long> cancelled() {
      List<Long> ids = new ArrayList<>();
      for (CoordinatorMessage message : sent) {
        if (message.hasCancel()) {
          ids.addAll(message.getCancel().getAttemptIdsList());
        }
      }
      return ids;
    }

    /** The oldest unanswered attempt. */
    TaskAssignment oldest() {
      return running.values().iterator().next();
    }

    @Override
    public void send(CoordinatorMessage message) {
      if (closedWith == null) {
        if (keepsHistory) {
          sent.add(message);
        }
        if (message.hasAssignments()) {
          for (TaskAssignment task : message.getAssignments().getTasksList()) {
            running.put(task.getAttemptId(), task);
          }
        }
      }
    }

    @Override
    public boolean isWritable() {
      return true;
    }

    @Override
    public void whenWritable(Runnable action) {}

    @Override
    public Transport transport() {
      return Transport.GRPC;
    }

    @Override
    public void close(String reason) {
      if (closedWith == null) {
        closedWith = reason;
      }
    }

    @Override
    public void refuse(Status status) {
      close(status.getDescription());
    }
  }
}
