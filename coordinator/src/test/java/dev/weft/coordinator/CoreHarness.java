package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskContext;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.Heartbeat;
import dev.weft.v1.Hello;
import dev.weft.v1.HostIdentity;
import dev.weft.v1.Job;
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
 * The coordinator's core driven by hand, for tests and the dispatch bench: a {@link Conductor}
 * whose clocks the caller sets, a {@link Scheduler} on it, and workers whose links record what they
 * are sent and answer only when told. No sockets, no threads, no waiting: time passes only in
 * {@link #advance}, and attached workers heartbeat on the way. A restart is a new harness on the
 * same {@link Time} and journal, restored from it.
 */
final class CoreHarness implements AutoCloseable {
  static final long HEARTBEAT_MS = 1_000;
  static final long LEASE_MS = 4_000;

  /** The fake clocks, shared by a core and the one that restarts after it. */
  static final class Time {
    long nanos = 1_000_000_000L;
    long epochMs = 1_800_000_000_000L;
  }

  private final Time time;
  final Conductor conductor;
  final Scheduler scheduler;
  private final JobIntake intake;
  private final JobKinds kinds;
  private final List<Link> links = new ArrayList<>();
  private final ScheduledThreadPoolExecutor signals = new ScheduledThreadPoolExecutor(1);

  /**
   * A core on {@code journal}, resuming the jobs in {@code saved} (empty for a first start), with
   * its config adjusted as the caller needs.
   */
  CoreHarness(
      Time time,
      Journal journal,
      List<Journal.SavedJob> saved,
      UnaryOperator<CoordinatorConfig> configure) {
    this.time = time;
    CoordinatorConfig config =
        configure
            .apply(
                new CoordinatorConfig()
                    .heartbeatIntervalMs(HEARTBEAT_MS)
                    .leaseMs(LEASE_MS)
                    .nanoClock(() -> time.nanos)
                    .epochClock(() -> time.epochMs))
            .conclude();
    conductor = new Conductor(config.nanoClock(), config.epochClock());
    kinds = JobKinds.load(CoreHarness.class.getClassLoader());
    intake = new JobIntake(kinds, config.maxTasksPerJob(), ReadableRoots.of(config));
    // Lost workers here are not processes of this host: nothing is ever signalled.
    scheduler = new Scheduler(config, "c0ffee", kinds, conductor, Runnable::run, signals, journal);
    scheduler.restore(saved);
    scheduler.startTimers();
    cycle();
  }

  CoreHarness(UnaryOperator<CoordinatorConfig> configure) {
    this(new Time(), Journal.NONE, List.of(), configure);
  }

  CoreHarness(Time time) {
    this(time, Journal.NONE, List.of(), config -> config);
  }

  Scheduler scheduler() {
    return scheduler;
  }

  long epochMs() {
    return time.epochMs;
  }

  Job job(String id) {
    return scheduler.get(id);
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
      time.nanos += TimeUnit.MILLISECONDS.toNanos(by);
      time.epochMs += by;
      for (Link link : links) {
        if (link.closedWith == null && link.beats) {
          scheduler.heartbeat(link.worker, Heartbeat.getDefaultInstance());
        }
      }
      cycle();
    }
  }

  /** Submits {@code spec} as the coordinator's endpoint would, after its checks. */
  String submit(JobSpec spec) {
    return submission(spec).job().id();
  }

  /** As {@link #submit}, with what the scheduler answers. */
  Scheduler.Submission submission(JobSpec spec) {
    Scheduler.Submission submission = scheduler.submit(intake.plan(spec));
    cycle();
    return submission;
  }

  static Hello.Builder hello(String id, int slots) {
    return Hello.newBuilder()
        .setWorkerId(id)
        .setSlots(slots)
        .addKinds("sum")
        .addKinds("noop")
        .addKinds("sleep")
        .addKinds("exec")
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
    succeed(link, tasks, 0);
  }

  /** The same, each result saying its task ran {@code durationUs} (0: not said). */
  void succeed(Link link, List<TaskAssignment> tasks, long durationUs) {
    List<TaskResult> results = new ArrayList<>();
    for (TaskAssignment task : tasks) {
      ByteString output = task.getKind().equals("exec") ? exited(0) : run(task);
      results.add(
          TaskResult.newBuilder()
              .setAttemptId(task.getAttemptId())
              .setOk(true)
              .setOutput(output)
              .setDurationUs(durationUs)
              .build());
      link.running.remove(task.getAttemptId());
    }
    scheduler.results(link.worker, results);
    cycle();
  }

  /** The output of an in-JVM kind's task, computed here as its worker would. */
  private ByteString run(TaskAssignment task) {
    JobKind kind = kinds.find(task.getKind()).orElseThrow();
    try {
      return kind.run(task.getInput(), NOT_CANCELLED);
    } catch (Exception e) {
      throw new AssertionError("kind " + task.getKind() + " failed in the harness", e);
    }
  }

  /** An exec task's output for a process that exited with {@code code} (none is started). */
  static ByteString exited(int code) {
    return ExecTaskOutput.newBuilder().setExitCode(code).build().toByteString();
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
  final class Link implements WorkerLink {
    final List<CoordinatorMessage> sent = new ArrayList<>();
    // Attempts assigned and not yet answered, in the order they came.
    final Map<Long, TaskAssignment> running = new LinkedHashMap<>();
    AttachedWorker worker;
    String closedWith;
    // A bench's links keep only what runs, not every message ever sent.
    boolean keepsHistory = true;
    // Whether it heartbeats as time passes; a test of leases beats by hand.
    boolean beats = true;
    // Whether it takes more; a test of a full link says when it has room again.
    boolean writable = true;
    Runnable becameWritable = () -> {};
    // How often the dispatcher asked whether it takes more: once per visit to this worker.
    int writableAsked;

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

    private int taken;

    /** The tasks assigned to it since the last call. */
    List<TaskAssignment> newTasks() {
      List<TaskAssignment> all = assignments();
      List<TaskAssignment> fresh = List.copyOf(all.subList(taken, all.size()));
      taken = all.size();
      return fresh;
    }

    /** The one task assigned since the last call. */
    TaskAssignment newTask() {
      List<TaskAssignment> tasks = newTasks();
      if (tasks.size() != 1) {
        throw new AssertionError("expected one new task, got " + tasks);
      }
      return tasks.getFirst();
    }

    /** Answers {@code task} with its correct output. */
    void succeed(TaskAssignment task) {
      CoreHarness.this.succeed(this, List.of(task));
    }

    /** Answers {@code task} as failed, the result shaped by {@code result}. */
    void fail(TaskAssignment task, UnaryOperator<TaskResult.Builder> result) {
      answer(result.apply(TaskResult.newBuilder().setAttemptId(task.getAttemptId())).build());
    }

    void answer(TaskResult result) {
      running.remove(result.getAttemptId());
      scheduler.results(worker, List.of(result));
      cycle();
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
      writableAsked++;
      return writable;
    }

    @Override
    public void whenWritable(Runnable action) {
      becameWritable = action;
    }

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
