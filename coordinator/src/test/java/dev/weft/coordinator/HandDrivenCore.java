package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.kinds.JobKinds;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.Hello;
import dev.weft.v1.HostIdentity;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RangeTask;
import dev.weft.v1.SumTaskOutput;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import dev.weft.wire.Transport;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * The coordinator's core driven by hand, as {@link ConductorTest} drives it: a {@link Conductor}
 * whose clocks the test sets, a {@link Scheduler} on it, and workers whose links record what they
 * are sent. Time passes only in {@link #advance}, and the attached workers heartbeat on the way. A
 * restart is a new core on the same {@link Time} and journal directory, restored from it.
 */
final class HandDrivenCore implements AutoCloseable {
  static final long HEARTBEAT_MS = 1_000;
  static final long LEASE_MS = 4_000;

  /** The fake clocks, shared by a core and the one that restarts after it. */
  static final class Time {
    long nanos = 1_000_000_000L;
    long epochMs = 1_800_000_000_000L;
  }

  private final Time time;
  private final Conductor conductor;
  private final Scheduler scheduler;
  private final JobIntake intake;
  private final ScheduledThreadPoolExecutor signals = new ScheduledThreadPoolExecutor(1);
  private final List<Worker> workers = new ArrayList<>();

  /**
   * A core on {@code journal}, resuming the jobs in {@code saved} (empty for a first start), with
   * {@code config} adjusted as the test needs.
   */
  HandDrivenCore(
      Time time,
      Journal journal,
      List<Journal.SavedJob> saved,
      UnaryOperator<CoordinatorConfig> config) {
    this.time = time;
    CoordinatorConfig concluded =
        config
            .apply(
                new CoordinatorConfig()
                    .heartbeatIntervalMs(HEARTBEAT_MS)
                    .leaseMs(LEASE_MS)
                    .nanoClock(() -> time.nanos)
                    .epochClock(() -> time.epochMs))
            .conclude();
    conductor = new Conductor(concluded.nanoClock(), concluded.epochClock());
    JobKinds kinds = JobKinds.load(HandDrivenCore.class.getClassLoader());
    intake = new JobIntake(kinds, concluded.maxTasksPerJob(), ReadableRoots.of(concluded));
    // Its workers are not processes of this host: nothing is ever signalled.
    scheduler =
        new Scheduler(concluded, "c0ffee", kinds, conductor, Runnable::run, signals, journal);
    scheduler.restore(saved);
    scheduler.startTimers();
    cycle();
  }

  HandDrivenCore(Time time) {
    this(time, Journal.NONE, List.of(), config -> config);
  }

  @Override
  public void close() {
    signals.shutdownNow();
  }

  Scheduler scheduler() {
    return scheduler;
  }

  /** One duty cycle at the current time. */
  void cycle() {
    conductor.doWork();
  }

  /** Moves time forward by {@code ms} in quarter heartbeats, the workers beating on the way. */
  void advance(long ms) {
    long step = Math.min(ms, HEARTBEAT_MS / 4);
    for (long passed = 0; passed < ms; passed += step) {
      long by = Math.min(step, ms - passed);
      time.nanos += TimeUnit.MILLISECONDS.toNanos(by);
      time.epochMs += by;
      for (Worker worker : workers) {
        scheduler.heartbeat(worker.attached, dev.weft.v1.Heartbeat.getDefaultInstance());
      }
      cycle();
    }
  }

  long epochMs() {
    return time.epochMs;
  }

  /** Submits a job (checked and planned as a client's would be) and returns its id. */
  String submit(JobSpec spec) {
    String id = scheduler.submit(intake.plan(spec)).job().id();
    cycle();
    return id;
  }

  Job job(String id) {
    return scheduler.get(id);
  }

  /**
   * Attaches a worker of {@code slots} slots, for sum and exec tasks, with all of them as credit.
   */
  Worker attach(String id, int slots) {
    Worker worker = new Worker();
    worker.attached =
        scheduler.attach(
            Hello.newBuilder()
                .setWorkerId(id)
                .setPid(0)
                .setSlots(slots)
                .addKinds("sum")
                .addKinds("exec")
                .setHost(HostIdentity.newBuilder().setHostname("elsewhere"))
                .build(),
            worker);
    workers.add(worker);
    scheduler.credit(worker.attached, slots);
    cycle();
    return worker;
  }

  /** A worker whose link keeps what it is sent, and answers as the test says. */
  final class Worker implements WorkerLink {
    private final List<CoordinatorMessage> sent = new ArrayList<>();
    private int taken;
    private AttachedWorker attached;
    private String closedWith;

    /** The tasks assigned to it since the last call. */
    List<TaskAssignment> newTasks() {
      List<TaskAssignment> all = new ArrayList<>();
      for (CoordinatorMessage message : sent) {
        if (message.hasAssignments()) {
          all.addAll(message.getAssignments().getTasksList());
        }
      }
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
      answer(
          TaskResult.newBuilder()
              .setAttemptId(task.getAttemptId())
              .setOk(true)
              .setOutput(outputOf(task))
              .build());
    }

    /** Answers {@code task} as failed, the result shaped by {@code result}. */
    void fail(TaskAssignment task, UnaryOperator<TaskResult.Builder> result) {
      answer(result.apply(TaskResult.newBuilder().setAttemptId(task.getAttemptId())).build());
    }

    void answer(TaskResult result) {
      scheduler.results(attached, List.of(result));
      cycle();
    }

    @Override
    public void send(CoordinatorMessage message) {
      if (closedWith == null) {
        sent.add(message);
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

  /** What a task's correct output is: a sum task's sum, an exec task's clean exit. */
  private static ByteString outputOf(TaskAssignment task) {
    if (task.getKind().equals("exec")) {
      return ExecTaskOutput.newBuilder().setExitCode(0).build().toByteString();
    }
    try {
      RangeTask range = RangeTask.parseFrom(task.getInput());
      long sum = 0;
      for (long i = range.getFrom(); i <= range.getTo(); i++) {
        sum += i;
      }
      return SumTaskOutput.newBuilder().setLow(sum).build().toByteString();
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  /** An exec task's output for a process that exited with {@code code}. */
  static ByteString exited(int code) {
    return ExecTaskOutput.newBuilder().setExitCode(code).build().toByteString();
  }
}
