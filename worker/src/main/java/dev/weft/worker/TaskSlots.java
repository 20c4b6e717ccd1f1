package dev.weft.worker;

import com.google.protobuf.ByteString;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.LogStream;
import dev.weft.kinds.TaskCancelledException;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskFailedException;
import dev.weft.kinds.TaskLogSink;
import dev.weft.kinds.TaskLogs;
import dev.weft.kinds.TaskResources;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs tasks on a fixed number of slot threads. Tasks beyond the slots wait in a queue (prefetch).
 * A task of an inline-cheap kind (see {@link JobKind#inlineCheap()}) that finds a slot free runs on
 * the thread that submits it instead, the link's reader; it counts against the slots all the same,
 * and its cancel flips its token without interrupting the reader. Every accepted task produces
 * exactly one result, delivered to the result sink: its output, its failure, or that it was
 * cancelled and how it stopped; a task handed back while draining produces none (the coordinator
 * already took it back).
 *
 * <p>A task whose assignment has a timeout is stopped as a cancel stops it once it has run that
 * long (from its start on a slot, not its arrival), and reported timed out rather than cancelled.
 *
 * <p>A cancelled task still running past its grace period (plus a little, so a killed process can
 * be reaped) is reported STUCK at once; its slot thread stays taken, and when the task finally
 * returns the slot comes back through {@link Listener#slotFreed()}.
 */
final class TaskSlots {
  private static final System.Logger LOG = System.getLogger(TaskSlots.class.getName());
  private static final int MAX_EARLY_CANCELS = 4096;
  private static final long STUCK_MARGIN_MS = 1_000;

  /** What the worker hears about its slots besides results. */
  interface Listener {
    /** A task reported stuck has returned at last: its slot is free again. */
    void slotFreed();

    /** A task was reported stuck; {@code stuck} slots are now held by stuck tasks. */
    void stuck(int stuck);
  }

  /** Told as attempts start on a slot and end there, for the worker's metrics; any thread. */
  interface Tally {
    Tally NONE =
        new Tally() {
          @Override
          public void started(String kind) {}

          @Override
          public void ended(String kind, TaskResult result, long nanos) {}
        };

    void started(String kind);

    /** The attempt of {@code kind} that started ended with {@code result}, {@code nanos} later. */
    void ended(String kind, TaskResult result, long nanos);
  }

  private final JobKinds kinds;
  private final SlotThreads threads;
  private final int slots;
  private final Map<Long, RunningTask> tasks = new ConcurrentHashMap<>();
  private final Consumer<TaskResult> results;
  private final Listener listener;
  private final ScheduledExecutorService timers;
  private final TaskLogs logs; // null when the worker keeps no task logs
  private final Tally tally;
  private final Set<Long> earlyCancels = Collections.synchronizedSet(new LinkedHashSet<>());
  private final Object idle = new Object();
  // One per slot, held while a task runs (on a slot thread or inline): a second link reader's
  // inline run and a slot thread never run more tasks than slots between them.
  private final Semaphore permits;
  private int stuck; // guarded by idle

  TaskSlots(
      int slots,
      JobKinds kinds,
      Consumer<TaskResult> results,
      Listener listener,
      ScheduledExecutorService timers) {
    this(slots, kinds, results, listener, timers, null);
  }

  TaskSlots(
      int slots,
      JobKinds kinds,
      Consumer<TaskResult> results,
      Listener listener,
      ScheduledExecutorService timers,
      TaskLogs logs) {
    this(slots, kinds, results, listener, timers, logs, Tally.NONE);
  }

  TaskSlots(
      int slots,
      JobKinds kinds,
      Consumer<TaskResult> results,
      Listener listener,
      ScheduledExecutorService timers,
      TaskLogs logs,
      Tally tally) {
    this(slots, kinds, results, listener, timers, logs, tally, new SlotThreads(slots));
  }

  /** As above, on slot threads of the caller's making. */
  TaskSlots(
      int slots,
      JobKinds kinds,
      Consumer<TaskResult> results,
      Listener listener,
      ScheduledExecutorService timers,
      TaskLogs logs,
      Tally tally,
      SlotThreads threads) {
    this.logs = logs;
    this.tally = tally;
    this.kinds = kinds;
    this.slots = slots;
    this.results = results;
    this.listener = listener;
    this.timers = timers;
    this.threads = threads;
    this.permits = new Semaphore(slots);
  }

  /**
   * Accepts a task. One of an inline-cheap kind runs here and now on the caller's thread (the link
   * reader) when a slot is free, sparing the hand-off to a slot thread; any other waits for a slot
   * thread.
   */
  void submit(TaskAssignment assignment) {
    JobKind kind = kinds.find(assignment.getKind()).orElse(null);
    boolean inline;
    RunningTask task;
    synchronized (idle) {
      // The reader's run takes a slot as a slot thread's would: never more tasks than slots.
      inline =
          kind != null
              && kind.inlineCheap()
              && tasks.size() + stuck < slots
              && permits.tryAcquire();
      task = new RunningTask(assignment, kind, inline);
      tasks.put(assignment.getAttemptId(), task);
    }
    if (earlyCancels.remove(assignment.getAttemptId())) {
      task.cancel(-1);
    }
    if (inline) {
      task.run();
    } else {
      threads.execute(task);
    }
  }

  /** Cancels the given attempts with their own grace periods. */
  void cancel(List<Long> attemptIds) {
    cancel(attemptIds, -1);
  }

  /**
   * Cancels the given attempts; each still reports a (cancelled) result.
   *
   * @param graceMs between SIGTERM and SIGKILL for task processes; negative for each task's own
   */
  void cancel(List<Long> attemptIds, long graceMs) {
    for (long attemptId : attemptIds) {
      RunningTask task = tasks.get(attemptId);
      if (task != null) {
        task.cancel(graceMs);
      } else {
        rememberEarlyCancel(attemptId);
      }
    }
  }

  /**
   * Takes back the accepted tasks that have not started (draining): they will not run and report
   * nothing. Returns their attempt ids, for the coordinator to run elsewhere.
   */
  List<Long> handBackUnstarted() {
    List<Long> handedBack = new ArrayList<>();
    for (RunningTask task : tasks.values()) {
      if (task.handBackIfUnstarted()) {
        tasks.remove(task.assignment.getAttemptId());
        handedBack.add(task.assignment.getAttemptId());
      }
    }
    signalIfIdle();
    return handedBack;
  }

  /** Waits until no accepted task is left, or the deadline passes; true when idle. */
  boolean awaitIdle(long deadlineNanos) throws InterruptedException {
    synchronized (idle) {
      while (!tasks.isEmpty()) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(idle, left);
      }
      return true;
    }
  }

  private void signalIfIdle() {
    if (tasks.isEmpty()) {
      synchronized (idle) {
        idle.notifyAll();
      }
    }
  }

  /** Tasks running now, on slot threads or inline (accepted ones may still wait in the queue). */
  int running() {
    int running = 0;
    for (RunningTask task : tasks.values()) {
      if (task.isRunning()) {
        running++;
      }
    }
    return running;
  }

  /** Slots held by tasks reported stuck. */
  int stuck() {
    synchronized (idle) {
      return stuck;
    }
  }

  int slots() {
    return slots;
  }

  /**
   * A cancel may overtake its assignment when the two travel different paths (the control stream
   * and a shared-memory link); remember a bounded number so the assignment is cancelled when it
   * lands.
   */
  private void rememberEarlyCancel(long attemptId) {
    synchronized (earlyCancels) {
      if (earlyCancels.size() >= MAX_EARLY_CANCELS) {
        Iterator<Long> oldest = earlyCancels.iterator();
        oldest.next();
        oldest.remove();
      }
      earlyCancels.add(attemptId);
    }
  }

  /** The attempts accepted and not yet finished. */
  List<Long> unfinished() {
    return new ArrayList<>(tasks.keySet());
  }

  /** Cancels everything and returns the attempts that had not finished. */
  List<Long> cancelAll() {
    return cancelAll(-1);
  }

  /** As {@link #cancelAll()}, with {@code graceMs} between SIGTERM and SIGKILL for every task. */
  List<Long> cancelAll(long graceMs) {
    List<Long> unfinished = new ArrayList<>(tasks.keySet());
    cancel(unfinished, graceMs);
    return unfinished;
  }

  int busy() {
    return tasks.size();
  }

  void shutdown(long graceMs) {
    cancelAll(graceMs);
    threads.shutdownNow();
  }

  boolean awaitTermination(long millis) throws InterruptedException {
    return threads.awaitTermination(millis);
  }

  /** One accepted attempt, from the queue through its run to its single result. */
  private final class RunningTask implements Runnable, TaskContext {
    private final TaskAssignment assignment;
    private final JobKind kind;
    // Runs on a link's reader thread, which a cancel must not interrupt: the thread is not ours.
    private final boolean inline;
    private final List<Runnable> onCancel = new ArrayList<>();
    private final TaskResources resources; // null when the assignment's are not valid
    private final String badResources;
    private Thread runner;
    private boolean cancelled;
    private boolean timedOut;
    private ScheduledFuture<?> timeout;
    private Integer exitCode;
    private boolean finished;
    private boolean handedBack;
    private boolean reportedStuck;
    private long graceOverrideMs = -1;
    private long cancelledNanos;

    RunningTask(TaskAssignment assignment, JobKind kind, boolean inline) {
      this.assignment = assignment;
      this.kind = kind;
      this.inline = inline;
      TaskResources asked = null;
      String problem = null;
      try {
        asked =
            new TaskResources(
                assignment.getResources().getCpuMillis(),
                assignment.getResources().getMemBytes(),
                assignment.getGpusList());
      } catch (IllegalArgumentException e) {
        problem = e.getMessage();
      }
      this.resources = asked;
      this.badResources = problem;
    }

    @Override
    public void run() {
      if (!inline) {
        // Waits only while another thread's inline run holds the last slot: microseconds.
        permits.acquireUninterruptibly();
      }
      try {
        runHoldingSlot();
      } finally {
        permits.release();
      }
    }

    private void runHoldingSlot() {
      synchronized (this) {
        if (handedBack) {
          return;
        }
        if (cancelled) {
          finished = true;
          finish(cancelledResult(0, StopOutcome.STOPPED, "cancelled before it started"));
          return;
        }
        runner = Thread.currentThread();
      }
      long start = System.nanoTime();
      tally.started(assignment.getKind());
      startTimeout();
      TaskResult result;
      try {
        result = execute(start);
      } finally {
        ScheduledFuture<?> pending;
        synchronized (this) {
          finished = true;
          runner = null;
          pending = timeout;
        }
        if (pending != null) {
          pending.cancel(false);
        }
        if (!inline) {
          // A cancel that raced with the end of the task must not hit the next task here.
          Thread.interrupted();
        }
      }
      tally.ended(assignment.getKind(), result, System.nanoTime() - start);
      finish(result);
    }

    /** Stops the task as a cancel would once it has run for the assignment's timeout, if any. */
    private void startTimeout() {
      long ms = assignment.getTimeoutMs();
      if (ms <= 0) {
        return;
      }
      ScheduledFuture<?> pending;
      try {
        pending = timers.schedule(this::timeOut, ms, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        // The worker is closing, and cancels every task it has itself.
        LOG.log(
            System.Logger.Level.DEBUG,
            "no timeout for task {0}: the worker is closing",
            describe());
        return;
      }
      synchronized (this) {
        timeout = pending;
      }
    }

    private void timeOut() {
      if (cancel(-1, true)) {
        LOG.log(
            System.Logger.Level.INFO,
            "task {0} ran past its timeout of {1} ms: stopping it",
            describe(),
            assignment.getTimeoutMs());
      }
    }

    private TaskResult execute(long start) {
      if (badResources != null) {
        return TaskResult.newBuilder()
            .setAttemptId(assignment.getAttemptId())
            .setError("the assignment's resources are not valid: " + badResources)
            .build();
      }
      if (kind == null) {
        return TaskResult.newBuilder()
            .setAttemptId(assignment.getAttemptId())
            .setError(
                "this worker has no kind '"
                    + assignment.getKind()
                    + "'; it has "
                    + String.join(", ", kinds.names()))
            .build();
      }
      try {
        ByteString output = kind.run(assignment.getInput(), this);
        if (isCancelled()) {
          return stoppedResult(start);
        }
        return withExitCode(
            TaskResult.newBuilder()
                .setAttemptId(assignment.getAttemptId())
                .setOk(true)
                .setOutput(output)
                .setDurationUs(micros(start)));
      } catch (TaskCancelledException e) {
        return cancelledResult(micros(start), e.outcome(), e.detail());
      } catch (InterruptedException e) {
        return stoppedResult(start);
      } catch (TaskFailedException e) {
        if (isCancelled()) {
          return stoppedResult(start);
        }
        return withExitCode(
            TaskResult.newBuilder()
                .setAttemptId(assignment.getAttemptId())
                .setError(e.getMessage())
                .setApplicationError(true)
                .setOutput(e.output())
                .setDurationUs(micros(start)));
      } catch (Exception e) {
        if (isCancelled()) {
          return stoppedResult(start);
        }
        LOG.log(System.Logger.Level.WARNING, "task " + describe() + " failed", e);
        return withExitCode(
            TaskResult.newBuilder()
                .setAttemptId(assignment.getAttemptId())
                .setError(e.toString())
                .setDurationUs(micros(start)));
      }
    }

    @Override
    public TaskLogSink openLog(LogStream stream) {
      if (logs == null) {
        return TaskLogSink.DISCARD;
      }
      try {
        return logs.open(
            assignment.getJobId(), assignment.getTask(), assignment.getAttempt(), stream);
      } catch (IOException | IllegalArgumentException e) {
        LOG.log(
            System.Logger.Level.WARNING,
            "task {0} runs without a log of its {1}: {2}",
            describe(),
            stream.fileName(),
            String.valueOf(e.getMessage()));
        return TaskLogSink.DISCARD;
      }
    }

    private String describe() {
      return assignment.getJobId() + "/" + assignment.getTask() + "#" + assignment.getAttempt();
    }

    /** An in-JVM task that returned (or threw) after its cancel. */
    private TaskResult stoppedResult(long start) {
      long sinceCancelMs;
      synchronized (this) {
        sinceCancelMs = (System.nanoTime() - cancelledNanos) / 1_000_000;
      }
      return cancelledResult(
          micros(start), StopOutcome.STOPPED, "stopped " + sinceCancelMs + " ms after its cancel");
    }

    /**
     * A stopped attempt: cancelled, or, when its timeout stopped it, a failed attempt that says so.
     */
    private TaskResult cancelledResult(long micros, StopOutcome outcome, String detail) {
      boolean byTimeout;
      synchronized (this) {
        byTimeout = timedOut;
      }
      boolean told = detail != null && !detail.isEmpty();
      TaskResult.Builder result =
          TaskResult.newBuilder()
              .setAttemptId(assignment.getAttemptId())
              .setStop(outcome)
              .setDurationUs(micros);
      if (byTimeout) {
        // A failed attempt, not a cancel: the coordinator counts it and may run the task again.
        result
            .setTimedOut(true)
            .setError(
                "timed out after "
                    + duration(assignment.getTimeoutMs())
                    + " (--task-timeout); "
                    + (told ? detail : "stopped"));
      } else {
        result.setCancelled(true).setError(told ? detail : "cancelled");
      }
      return withExitCode(result);
    }

    private TaskResult withExitCode(TaskResult.Builder result) {
      Integer exit;
      synchronized (this) {
        exit = exitCode;
      }
      if (exit != null) {
        result.setExitCode(exit);
      }
      return result.build();
    }

    private void finish(TaskResult result) {
      boolean wasStuck;
      synchronized (this) {
        wasStuck = reportedStuck;
      }
      tasks.remove(assignment.getAttemptId());
      if (wasStuck) {
        // Its (stuck) result went out long ago; what it returns now only frees the slot.
        synchronized (idle) {
          stuck--;
        }
        LOG.log(
            System.Logger.Level.INFO,
            "stuck task {0} returned at last; its slot is free again",
            describe());
        listener.slotFreed();
      } else {
        results.accept(result);
      }
      signalIfIdle();
    }

    synchronized boolean isRunning() {
      return runner != null;
    }

    synchronized boolean handBackIfUnstarted() {
      if (runner != null || finished || handedBack) {
        return false;
      }
      handedBack = true;
      cancelled = true;
      return true;
    }

    void cancel(long graceMs) {
      cancel(graceMs, false);
    }

    /**
     * Cancels the task, by its timeout or not; false when it was already cancelled or done.
     *
     * @param graceMs between SIGTERM and SIGKILL for task processes; negative for the task's own
     */
    private boolean cancel(long graceMs, boolean byTimeout) {
      List<Runnable> actions;
      boolean running;
      synchronized (this) {
        if (cancelled || finished) {
          return false;
        }
        cancelled = true;
        timedOut = byTimeout;
        cancelledNanos = System.nanoTime();
        graceOverrideMs = graceMs;
        actions = List.copyOf(onCancel);
        running = runner != null;
        if (running && !inline) {
          runner.interrupt();
        }
      }
      actions.forEach(TaskSlots::runCancelAction);
      if (running) {
        timers.schedule(this::reportIfStuck, graceMs() + STUCK_MARGIN_MS, TimeUnit.MILLISECONDS);
      }
      return true;
    }

    private void reportIfStuck() {
      long sinceCancelMs;
      synchronized (this) {
        if (finished || reportedStuck) {
          return;
        }
        reportedStuck = true;
        sinceCancelMs = (System.nanoTime() - cancelledNanos) / 1_000_000;
      }
      // Answered for: no longer the worker's to hand back, nor something a drain waits for.
      tasks.remove(assignment.getAttemptId());
      signalIfIdle();
      int nowStuck;
      synchronized (idle) {
        nowStuck = ++stuck;
      }
      String detail =
          "still running "
              + sinceCancelMs
              + " ms after its cancel (grace "
              + graceMs()
              + " ms); its slot stays taken until it returns";
      LOG.log(System.Logger.Level.WARNING, "task {0} is stuck: {1}", describe(), detail);
      results.accept(cancelledResult(0, StopOutcome.STUCK, detail));
      listener.stuck(nowStuck);
    }

    @Override
    public synchronized boolean isCancelled() {
      return cancelled;
    }

    @Override
    public void onCancel(Runnable action) {
      synchronized (this) {
        if (!cancelled) {
          onCancel.add(action);
          return;
        }
      }
      runCancelAction(action);
    }

    @Override
    public synchronized long graceMs() {
      return graceOverrideMs >= 0 ? graceOverrideMs : assignment.getGraceMs();
    }

    @Override
    public TaskResources resources() {
      return resources == null ? TaskResources.NONE : resources;
    }

    @Override
    public synchronized void processExited(int code) {
      exitCode = code;
    }
  }

  /** "1 s" for whole seconds, else "1500 ms". */
  static String duration(long ms) {
    return ms % 1_000 == 0 ? ms / 1_000 + " s" : ms + " ms";
  }

  private static void runCancelAction(Runnable action) {
    // One failing action must not keep the others (or the cancel itself) from running.
    try {
      action.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "a task's cancel action failed", e);
    }
  }

  /** At least 1: the coordinator takes 0 for "not reported" (see TaskResult.duration_us). */
  private static long micros(long startNanos) {
    return Math.max(1, (System.nanoTime() - startNanos) / 1_000);
  }
}
