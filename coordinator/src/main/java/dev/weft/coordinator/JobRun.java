package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import dev.weft.kinds.InvalidTaskOutputException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobReduction;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.ExecTaskOutput;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.Progress;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskEvent;
import dev.weft.v1.TaskFailure;
import dev.weft.v1.TaskResult;
import dev.weft.v1.TaskState;
import dev.weft.v1.TaskStop;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * One job's state machine and bookkeeping: which tasks are pending, running, done, how many times
 * each was attempted, and the reduction of their outputs. Conductor thread only; its time comes
 * from the {@link CoreClock}.
 *
 * <p>A failed attempt that is retried may wait first ({@link RetryRule}): its task is then neither
 * pending nor running until a timer of the {@link RetryTimers} makes it pending again. A job that
 * depends on others starts WAITING and is handed out nothing until {@link #release}.
 *
 * <p>What a restart must not lose goes to the {@link Journal} as it happens: the first dispatch,
 * each task's result, each retried failure, a stop request and the end. A job read back from the
 * journal either resumes ({@link #restore}) or, once finished, keeps only its final state ({@link
 * #ofFinished}).
 */
final class JobRun {
  private static final System.Logger LOG = System.getLogger(JobRun.class.getName());
  static final int DEFAULT_MAX_ATTEMPTS = 3;
  private static final int MAX_RECORDED_FAILURES = 100;
  private static final int MAX_RECORDED_STOPS = 1000;
  private static final long PROGRESS_INTERVAL_NANOS = 100_000_000L;
  // Tasks shorter than this (run time, else dispatch to result) are worth queueing on a busy
  // worker.
  static final long SHORT_TASK_NANOS = 20_000_000L;

  private static final byte PENDING = 0;
  private static final byte RUNNING = 1;
  private static final byte SUCCEEDED = 2;
  private static final byte FAILED = 3;
  // Failed, to run again once its retry delay is over.
  private static final byte DELAYED = 4;

  /** No exit code: the attempt did not end with its process exiting. */
  static final int NO_EXIT_CODE = -1;

  private final String id;
  private final JobSpec spec;
  // Asked on every dispatch: a set, not the spec's list.
  private final Set<String> allowedWorkers;
  private final String kindName;
  private final TaskPlan plan;
  private final JobReduction reduction;
  // What the result keeps of task outputs; null for a finished job read back from the journal.
  private final ResultBudget budget;
  private final int maxAttempts;
  private final RetryRule retryRule;
  private final RetryTimers retryTimers;
  private final long taskTimeoutMs;
  private final long graceMs;
  private final double weight;
  private final TaskNeeds needs;
  // The class it is served in: the spec's, until an admin moves it.
  private int priority;
  private int preemptions;
  private final JobWatchers watchers;
  private final long createdMs;

  private final byte[] taskStates;
  private final byte[] attemptsByTask;
  // Which worker ran each task's latest attempt (a WorkerNames index); made on the first dispatch.
  private int[] ranOn;
  private final ArrayDeque<Integer> retries = new ArrayDeque<>();
  // Tasks waiting out their retry delay, earliest first; one timer, armed for the earliest.
  private final PriorityQueue<DelayedRetry> delayed = new PriorityQueue<>();
  private Conductor.Timer retryTimer;
  private long retryTimerDueNanos;
  private int nextFresh;
  private int done;
  private int failed;
  private int running;
  private long attempts;
  private final List<TaskFailure> failures = new ArrayList<>();
  private final List<TaskStop> stops = new ArrayList<>();
  private int stopped;
  private int neverStarted;
  // While CANCELLING: the state the job ends in once its running tasks have stopped, and why.
  private JobState stopTarget;
  private String stopReason;
  private long stopRequestedNanos;

  private JobState state = JobState.QUEUED;
  // While WAITING: which of the jobs it depends on it still waits for.
  private String waitingReason = "";
  private long startedMs;
  private long finishedMs;
  private JobResult result;
  private String error = "";
  private String firstPermanentFailure;
  private long lastProgressNanos;
  // How long its attempts take from dispatch to result, smoothed; negative until one has.
  private long taskNanosAverage = -1;
  private final java.util.function.Consumer<JobRun> onFinish;
  private final Journal journal;
  private final CoreClock clock;
  // Null for a finished job read back from the journal.
  private final TaskInputs inputs;
  private final TaskCounts counts;
  // A finished job read back from the journal: all that is left of it. Null for live jobs.
  private final Job frozen;
  // A live job's final state, built once when it ends: nothing changes it after that, and every
  // reader of the end (journal, watchers, waiters, GetJob, ListJobs) shares it.
  private Job ended;

  JobRun(
      String id,
      JobSpec spec,
      JobKind kind,
      TaskPlan plan,
      long graceMs,
      JobWatchers watchers,
      long createdMs,
      long maxResultBytes,
      Journal journal,
      CoreClock clock,
      RetryTimers retryTimers,
      TaskCounts counts,
      java.util.function.Function<TaskPlan, TaskInputs> inputs,
      java.util.function.Consumer<JobRun> onFinish) {
    this.onFinish = onFinish;
    this.counts = counts;
    this.retryTimers = retryTimers;
    this.journal = journal;
    this.clock = clock;
    this.inputs = inputs.apply(plan);
    this.frozen = null;
    this.id = id;
    this.spec = spec;
    this.allowedWorkers = Set.copyOf(spec.getWorkersList());
    this.kindName = kind.name();
    this.plan = plan;
    this.reduction = kind.reduction(spec, plan);
    this.budget = new ResultBudget(kindName, maxResultBytes);
    this.maxAttempts = spec.getMaxAttempts() > 0 ? spec.getMaxAttempts() : DEFAULT_MAX_ATTEMPTS;
    this.retryRule = RetryRule.of(spec);
    this.taskTimeoutMs = spec.hasTaskTimeout() ? Durations.toMillis(spec.getTaskTimeout()) : 0;
    this.graceMs = graceMs;
    this.weight = spec.getWeight() > 0 ? spec.getWeight() : 1;
    this.needs = TaskNeeds.of(spec);
    this.priority = spec.getPriority();
    this.watchers = watchers;
    this.createdMs = createdMs;
    this.taskStates = new byte[plan.taskCount()];
    this.attemptsByTask = new byte[plan.taskCount()];
  }

  private JobRun(Job finished, JobWatchers watchers) {
    this.frozen = finished;
    this.journal = Journal.NONE;
    this.clock = null;
    this.inputs = null;
    this.onFinish = job -> {};
    this.id = finished.getId();
    this.spec = finished.getSpec();
    this.allowedWorkers = Set.of(); // finished: never dispatched again
    this.kindName = finished.getKind();
    this.plan = null;
    this.reduction = null;
    this.budget = null;
    this.maxAttempts = 0;
    this.retryRule = null;
    this.retryTimers = null;
    this.counts = new TaskCounts(); // a finished job counts nothing more
    this.taskTimeoutMs = 0;
    this.graceMs = 0;
    this.weight = 1;
    this.needs = TaskNeeds.NONE;
    this.priority = finished.getSpec().getPriority();
    this.watchers = watchers;
    this.createdMs = Timestamps.toMillis(finished.getCreated());
    this.taskStates = new byte[0];
    this.attemptsByTask = new byte[0];
    this.state = finished.getState();
    this.finishedMs = Timestamps.toMillis(finished.getFinished());
    // Marks the watchers finished: a client watching it gets the snapshot and the end at once.
    watchers.finish(JobEvent.newBuilder().setJobId(id).setFinished(finished).build());
  }

  /** A job that had finished before the coordinator restarted: queryable, nothing more. */
  static JobRun ofFinished(Job finished, JobWatchers watchers) {
    return new JobRun(finished, watchers);
  }

  /**
   * Folds in the results the journal recorded before a restart, right after construction: those
   * tasks are not run again. An output the reduction now refuses leaves its task to run again. A
   * task that was retried keeps its attempt count, and waits until its recorded retry time if that
   * has not come yet; the failures recorded come back in the order they happened.
   */
  void restore(Journal.SavedJob saved) {
    // The latest retry of each task: how many attempts it had, and when it may run again.
    Map<Integer, Journal.SavedRetry> lastRetry = new HashMap<>();
    List<TaskFailure> restoredFailures = new ArrayList<>();
    for (Journal.SavedRetry r : saved.retries()) {
      lastRetry.merge(
          r.task(), r, (before, after) -> after.attempts() >= before.attempts() ? after : before);
      restoredFailures.add(r.failure());
    }
    for (Journal.SavedResult r : saved.results()) {
      int task = r.task();
      if (taskStates[task] != PENDING) {
        continue;
      }
      ByteString output = budget.bound(r.output());
      if (r.ok()) {
        try {
          reduction.add(task, output);
        } catch (InvalidTaskOutputException e) {
          LOG.log(
              System.Logger.Level.WARNING,
              "job " + id + " task " + task + ": recorded output refused, running it again",
              e);
          continue;
        }
        taskStates[task] = SUCCEEDED;
        Journal.SavedRetry retried = lastRetry.get(task);
        attemptsByTask[task] = attemptCount(retried == null ? 1 : retried.attempts() + 1);
        done++;
      } else {
        taskStates[task] = FAILED;
        attemptsByTask[task] = attemptCount(r.failure().getAttempt());
        failed++;
        restoredFailures.add(r.failure());
        if (firstPermanentFailure == null) {
          firstPermanentFailure = r.summary();
        }
        addFailureOutput(task, output);
      }
    }
    long nowMs = clock.epochMs();
    for (Journal.SavedRetry r : lastRetry.values()) {
      int task = r.task();
      if (taskStates[task] == PENDING) {
        attemptsByTask[task] = attemptCount(r.attempts());
        if (r.retryAtMs() > nowMs) {
          delay(task, r.retryAtMs());
        }
      }
    }
    // Failures an older coordinator recorded carry no time: they sort first, in their order.
    restoredFailures.sort(
        Comparator.comparingLong(f -> f.hasTime() ? Timestamps.toMillis(f.getTime()) : 0));
    failures.addAll(
        restoredFailures.subList(0, Math.min(restoredFailures.size(), MAX_RECORDED_FAILURES)));
    for (byte taken : attemptsByTask) {
      attempts += taken;
    }
    advanceFresh();
    if (saved.startedMs() > 0 || done + failed > 0 || !lastRetry.isEmpty()) {
      state = JobState.RUNNING;
      startedMs = saved.startedMs() > 0 ? saved.startedMs() : createdMs;
    }
  }

  private static byte attemptCount(int attempts) {
    return (byte) Math.clamp(attempts, 1, 127);
  }

  /** Ends a restored job whose every task had a recorded result; true when it ended. */
  boolean settleRestored() {
    return settle();
  }

  long createdMs() {
    return createdMs;
  }

  /** Whether the job may run on worker {@code workerId} (jobs may name their workers). */
  boolean mayRunOn(String workerId) {
    return allowedWorkers.isEmpty() || allowedWorkers.contains(workerId);
  }

  String id() {
    return id;
  }

  /** Its share among its owner's jobs of its class. */
  double weight() {
    return weight;
  }

  /** Its priority class. */
  int priority() {
    return priority;
  }

  /** Moves it to another class (the fair-share order is moved by whoever calls this). */
  void priority(int priority) {
    this.priority = priority;
  }

  TaskNeeds needs() {
    return needs;
  }

  int preemptions() {
    return preemptions;
  }

  /**
   * A running attempt was stopped to make room for a job of a higher class: the task runs again
   * later, at no cost to its attempts. Returns true when this ended the job (it was stopping).
   */
  boolean preempted(int task) {
    if (isFinished() || taskStates[task] != RUNNING) {
      return false;
    }
    preemptions++;
    counts.preempted++;
    attempts--;
    return handBack(task);
  }

  String kindName() {
    return kindName;
  }

  TaskPlan plan() {
    return plan;
  }

  long graceMs() {
    return graceMs;
  }

  /** How long one attempt may run before its worker stops it; 0: no limit. */
  long taskTimeoutMs() {
    return taskTimeoutMs;
  }

  JobSpec spec() {
    return spec;
  }

  JobWatchers watchers() {
    return watchers;
  }

  boolean isFinished() {
    return state == JobState.SUCCEEDED || state == JobState.FAILED || state == JobState.CANCELLED;
  }

  /** Cancelled or timed out, and waiting for its running tasks to stop. */
  boolean isStopping() {
    return state == JobState.CANCELLING;
  }

  boolean hasPending() {
    return !isFinished()
        && !isStopping()
        && state != JobState.WAITING
        && (!retries.isEmpty() || nextFresh < taskStates.length);
  }

  /** Waiting for the jobs it depends on: nothing of it runs until {@link #release}. */
  boolean isWaiting() {
    return state == JobState.WAITING;
  }

  /**
   * The job waits for jobs it depends on, {@code reason} saying which; only before any of its tasks
   * ran (at submit, or as it resumes after a restart). Called again as some of them end.
   */
  void await(String reason) {
    if (isFinished() || isStopping() || (state != JobState.QUEUED && !isWaiting())) {
      return;
    }
    boolean changed = !isWaiting();
    state = JobState.WAITING;
    waitingReason = reason;
    if (changed) {
      watchers.emit(event().setState(state).build());
    }
  }

  /** The jobs it waited for have ended as it asked: its tasks may be handed out now. */
  void release() {
    if (!isWaiting()) {
      return;
    }
    state = JobState.QUEUED;
    waitingReason = "";
    watchers.emit(event().setState(state).build());
  }

  /**
   * Fails a job none of whose tasks ran (a job it depends on did not succeed): its tasks never
   * start. Returns false when it had already finished or was stopping.
   */
  boolean failUnstarted(String why) {
    if (!isWaiting() && !(state == JobState.QUEUED && startedMs == 0)) {
      return false;
    }
    neverStarted = taskStates.length - done - failed - running;
    finish(JobState.FAILED, why);
    return true;
  }

  /** How many of its tasks wait to be dispatched. */
  int pendingTasks() {
    return hasPending() ? retries.size() + (taskStates.length - nextFresh) : 0;
  }

  /** The task {@link #takeTask} would take next; only while {@link #hasPending}. */
  private int peekTask() {
    return retries.isEmpty() ? nextFresh : retries.peekFirst();
  }

  /**
   * True when the next task's input can be had without waiting (a file-reading plan's input may
   * still be on its way; its arrival makes the job dispatchable again).
   */
  boolean inputReady() {
    return !hasPending() || inputs.isReady(peekTask());
  }

  /** The input of a task {@link #takeTask} just took; reads ahead the one after it. */
  ByteString input(int task) throws java.io.IOException {
    ByteString input = inputs.take(task);
    if (hasPending()) {
      inputs.prefetch(peekTask());
    }
    return input;
  }

  /** How many of its attempts run now. */
  int runningTasks() {
    return running;
  }

  /** Takes the next task to dispatch and marks it running; returns its index and attempt. */
  int takeTask() {
    int task;
    if (retries.isEmpty()) {
      task = nextFresh++;
      advanceFresh();
    } else {
      task = retries.pollFirst();
    }
    taskStates[task] = RUNNING;
    attemptsByTask[task]++;
    attempts++;
    running++;
    counts.started++;
    if (state == JobState.QUEUED) {
      state = JobState.RUNNING;
      startedMs = clock.epochMs();
      journal.started(id, startedMs);
      watchers.emit(event().setState(state).build());
    }
    return task;
  }

  /** Skips tasks that already have a result (a restored job's), so fresh ones stay in order. */
  private void advanceFresh() {
    while (nextFresh < taskStates.length && taskStates[nextFresh] != PENDING) {
      nextFresh++;
    }
  }

  /** How many tasks the job has, for a live job or one read back from the journal alike. */
  int taskCount() {
    return frozen != null ? frozen.getTasksTotal() : taskStates.length;
  }

  /** Read back from the journal after it ended: which workers ran its tasks is not known. */
  boolean restored() {
    return frozen != null;
  }

  int attemptOf(int task) {
    return attemptsByTask[task];
  }

  /** The latest attempt of {@code task} was dispatched to worker {@code workerName}. */
  void ranOn(int task, int workerName) {
    if (ranOn == null) {
      ranOn = new int[taskStates.length];
      java.util.Arrays.fill(ranOn, WorkerNames.NONE);
    }
    ranOn[task] = workerName;
  }

  /** The worker that ran {@code task}'s latest attempt, or {@link WorkerNames#NONE}. */
  int ranOn(int task) {
    return ranOn == null ? WorkerNames.NONE : ranOn[task];
  }

  /**
   * An attempt took {@code nanos}: its run time as its worker reported it, or from dispatch to
   * result (round trip included) where the worker did not say.
   */
  void tookNanos(long nanos) {
    taskNanosAverage =
        taskNanosAverage < 0 ? nanos : taskNanosAverage + (nanos - taskNanosAverage) / 8;
  }

  /**
   * True once its attempts are seen to take less than {@link #SHORT_TASK_NANOS}: such tasks may
   * queue on a worker beyond its slots, to hide the round trip between one and the next.
   */
  boolean hasShortTasks() {
    return taskNanosAverage >= 0 && taskNanosAverage < SHORT_TASK_NANOS;
  }

  /** Records a task's output. Returns true when this finished the job. */
  boolean succeed(int task, ByteString sent, String workerId) {
    if (isFinished() || taskStates[task] != RUNNING) {
      return false;
    }
    ByteString output = budget.bound(sent);
    try {
      reduction.add(task, output);
    } catch (InvalidTaskOutputException e) {
      return fail(task, "unreadable output: " + e.getMessage(), false, workerId);
    }
    taskStates[task] = SUCCEEDED;
    running--;
    done++;
    journal.succeeded(id, task, output);
    taskEvent(task, TaskState.TASK_SUCCEEDED, workerId, "");
    if (isStopping()) {
      return stopIfSettled();
    }
    if (settle()) {
      return true;
    }
    progress(false);
    return false;
  }

  /**
   * Ends the job once every task has succeeded or failed for good: SUCCEEDED with the reduced
   * result, or FAILED with the first failure and whatever result the kind can still give (exec
   * reports every task's outcome). Returns true when it ended the job.
   */
  private boolean settle() {
    if (done + failed < taskStates.length) {
      return false;
    }
    if (failed == 0) {
      result = budget.note(reduction.result());
      finish(JobState.SUCCEEDED, "");
      return true;
    }
    try {
      result = budget.note(reduction.result());
    } catch (IllegalStateException e) {
      result = null; // the kind has no partial result (a sum missing a range is no sum)
    }
    finish(
        JobState.FAILED,
        failed + " of " + taskStates.length + " tasks failed; first: " + firstPermanentFailure);
    return true;
  }

  /**
   * Records a failed attempt. The task is retried while it has attempts left, unless the failure is
   * the task's own and the job did not ask for retries. Returns true when this finished the job.
   */
  boolean fail(int task, String message, boolean applicationError, String workerId) {
    return fail(task, message, applicationError, workerId, ByteString.EMPTY);
  }

  /**
   * As {@link #fail(int, String, boolean, String)}, with the output the failed task left (an exec
   * task's exit code and output tails), which the reduction keeps when the task fails for good. A
   * task that fails for good does not stop the others: the job ends FAILED once all are settled.
   */
  boolean fail(
      int task, String sentMessage, boolean applicationError, String workerId, ByteString sent) {
    return fail(task, sentMessage, applicationError, workerId, sent, NO_EXIT_CODE, false);
  }

  /**
   * An attempt its worker reported failed: its error, its exit code, and whether it ran past the
   * job's task timeout. A timed-out attempt is a failure of the attempt, not of the task's own: it
   * is retried like a lost one, whatever its exit code (the one its stop gave it).
   */
  boolean failAttempt(int task, TaskResult result, String workerId) {
    if (result.getTimedOut()) {
      String message =
          result.getError().isEmpty()
              ? "timed out after " + Durations.toString(Durations.fromMillis(taskTimeoutMs))
              : result.getError();
      return fail(task, message, false, workerId, result.getOutput(), exitCodeOf(result), true);
    }
    return fail(
        task,
        result.getError(),
        result.getApplicationError(),
        workerId,
        result.getOutput(),
        exitCodeOf(result),
        false);
  }

  /**
   * The exit code of a failed attempt: as the worker reports it, or else from an exec task's
   * output, which has always carried it.
   */
  private int exitCodeOf(TaskResult result) {
    if (result.hasExitCode()) {
      return result.getExitCode();
    }
    if (!spec.hasExec() || result.getOutput().isEmpty()) {
      return NO_EXIT_CODE;
    }
    try {
      ExecTaskOutput output = ExecTaskOutput.parseFrom(result.getOutput());
      return output.getExitCode();
    } catch (InvalidProtocolBufferException e) {
      return NO_EXIT_CODE; // the reduction refuses the output too, and says why
    }
  }

  private boolean fail(
      int task,
      String sentMessage,
      boolean applicationError,
      String workerId,
      ByteString sent,
      int exitCode,
      boolean timedOut) {
    if (isFinished() || taskStates[task] != RUNNING) {
      return false;
    }
    String message = ResultBudget.error(sentMessage);
    ByteString output = budget.bound(sent);
    running--;
    long nowMs = clock.epochMs();
    // A timed-out attempt's exit code is its stop's, not a verdict of the task's own.
    boolean finalExit = !timedOut && retryRule.isFinal(exitCode);
    boolean retry =
        !isStopping()
            && !finalExit
            && (!applicationError || retryRule.retriesApplicationErrors())
            && attemptsByTask[task] < maxAttempts;
    if (retry) {
      long delayMs = retryRule.delayMs(attemptsByTask[task]);
      long retryAtMs = delayMs > 0 ? nowMs + delayMs : 0;
      TaskFailure failure = failure(task, workerId, message, nowMs, retryAtMs, exitCode);
      recordFailure(failure);
      journal.retrying(id, failure);
      if (delayMs > 0) {
        delay(task, retryAtMs);
        taskEvent(
            task,
            TaskState.TASK_PENDING,
            workerId,
            "retrying at " + Instant.ofEpochMilli(retryAtMs) + " after: " + message);
      } else {
        taskStates[task] = PENDING;
        retries.addLast(task);
        taskEvent(task, TaskState.TASK_PENDING, workerId, "retrying after: " + message);
      }
      return false;
    }
    TaskFailure failure = failure(task, workerId, message, nowMs, 0, exitCode);
    recordFailure(failure);
    taskStates[task] = FAILED;
    failed++;
    taskEvent(task, TaskState.TASK_FAILED, workerId, message);
    String summary;
    if (finalExit && !isStopping()) {
      summary = "task " + task + ": " + message + " (exit code " + exitCode + " is not retried)";
    } else if (applicationError && !retryRule.retriesApplicationErrors()) {
      summary = "task " + task + ": " + message;
    } else {
      summary = "task " + task + " after " + attemptsByTask[task] + " attempts: " + message;
    }
    if (firstPermanentFailure == null) {
      firstPermanentFailure = summary;
    }
    journal.failed(id, task, output, failure, summary);
    addFailureOutput(task, output);
    if (isStopping()) {
      return stopIfSettled();
    }
    if (settle()) {
      return true;
    }
    progress(false);
    return false;
  }

  /**
   * Makes {@code task} wait until {@code retryAtMs} before it runs again. The wait is kept on the
   * monotonic clock (a wall clock set back does not stretch it); {@code retryAtMs} is what the
   * journal and the job's failures show.
   */
  private void delay(int task, long retryAtMs) {
    taskStates[task] = DELAYED;
    long dueNanos = clock.nanoTime() + (retryAtMs - clock.epochMs()) * 1_000_000;
    delayed.add(new DelayedRetry(dueNanos, retryAtMs, task));
    if (retryTimer == null || dueNanos - retryTimerDueNanos < 0) {
      armRetryTimer();
    }
  }

  /** (Re)arms the job's one retry timer for the earliest task waiting. */
  private void armRetryTimer() {
    if (retryTimer != null) {
      retryTimer.cancel();
    }
    retryTimerDueNanos = delayed.peek().dueNanos();
    long waitNanos = Math.max(0, retryTimerDueNanos - clock.nanoTime());
    // Rounded up: a timer that fired early would only be armed again.
    retryTimer = retryTimers.schedule((waitNanos + 999_999) / 1_000_000, this::retriesDue);
  }

  /**
   * The retry timer fired: the tasks whose time has come are pending again. Stale once the job has
   * ended or is stopping (its timer is called off then, but may have fired in the same cycle).
   */
  private void retriesDue() {
    retryTimer = null;
    if (isFinished() || isStopping()) {
      return;
    }
    long nowNanos = clock.nanoTime();
    boolean any = false;
    while (!delayed.isEmpty() && delayed.peek().dueNanos() - nowNanos <= 0) {
      int task = delayed.poll().task();
      taskStates[task] = PENDING;
      // A restored task the fresh order has not passed yet is taken in its turn, not twice.
      if (task < nextFresh) {
        retries.addLast(task);
      }
      any = true;
    }
    if (!delayed.isEmpty()) {
      armRetryTimer();
    }
    if (any) {
      retryTimers.due(this);
    }
  }

  /** Calls off the retry timer and forgets the waits: the job ends or stops. */
  private void dropDelayed() {
    if (retryTimer != null) {
      retryTimer.cancel();
      retryTimer = null;
    }
    delayed.clear();
  }

  /** A task waiting out its retry delay: due at {@code dueNanos}, shown as {@code retryAtMs}. */
  private record DelayedRetry(long dueNanos, long retryAtMs, int task)
      implements Comparable<DelayedRetry> {
    @Override
    public int compareTo(DelayedRetry other) {
      int byTime = Long.compare(dueNanos - other.dueNanos, 0);
      return byTime != 0 ? byTime : Integer.compare(task, other.task);
    }
  }

  /**
   * An attempt whose worker went away: retried like any failure, counting the attempt; while the
   * job is stopping it counts as stopped, since nothing of it runs any more.
   */
  boolean lose(int task, String workerId, String reason) {
    if (isStopping()) {
      return stopped(task, workerId, StopOutcome.WORKER_LOST, "worker " + workerId + ": " + reason);
    }
    return fail(task, "worker " + workerId + " lost: " + reason, false, workerId);
  }

  /**
   * An attempt the worker handed back unstarted or unfinished (drain): retried at no cost, or,
   * while the job is stopping, counted as never started. Returns true when this ended the job.
   */
  boolean handBack(int task) {
    if (isFinished() || taskStates[task] != RUNNING) {
      return false;
    }
    running--;
    attemptsByTask[task]--;
    taskStates[task] = PENDING;
    if (isStopping()) {
      neverStarted++;
      return stopIfSettled();
    }
    retries.addFirst(task);
    return false;
  }

  /**
   * A running attempt of a stopping job answered its cancel. Returns true when it was the last one
   * and the job ended.
   */
  boolean stopped(int task, String workerId, StopOutcome outcome, String sentDetail) {
    if (!isStopping() || taskStates[task] != RUNNING) {
      return false;
    }
    String detail = ResultBudget.error(sentDetail);
    running--;
    taskStates[task] = FAILED;
    stopped++;
    if (stops.size() < MAX_RECORDED_STOPS) {
      stops.add(
          TaskStop.newBuilder()
              .setTask(task)
              .setAttempt(attemptsByTask[task])
              .setWorkerId(workerId)
              .setOutcome(outcome)
              .setStopMs((clock.nanoTime() - stopRequestedNanos) / 1_000_000)
              .setDetail(detail)
              .build());
    }
    taskEvent(task, TaskState.TASK_CANCELLED, workerId, detail);
    return stopIfSettled();
  }

  /** The running tasks of a stopping job, which the scheduler asks to stop. */
  boolean isRunning(int task) {
    return taskStates[task] == RUNNING;
  }

  /** When the job began stopping, on the core's monotonic clock. */
  long stopRequestedNanos() {
    return stopRequestedNanos;
  }

  /**
   * Cancels the job: queued tasks never start; it stays CANCELLING until its running tasks have
   * stopped (see {@link #stopped}), then ends CANCELLED. Returns false when it had already finished
   * or was already stopping.
   */
  boolean cancel(String reason) {
    return beginStop(JobState.CANCELLED, reason.isEmpty() ? "cancelled" : reason);
  }

  /** As {@link #cancel}, ending FAILED (a timeout); false when it had already finished. */
  boolean abort(String reason) {
    return beginStop(JobState.FAILED, reason);
  }

  private boolean beginStop(JobState target, String why) {
    if (isFinished() || isStopping()) {
      return false;
    }
    stopTarget = target;
    stopReason = why;
    stopRequestedNanos = clock.nanoTime();
    journal.stopping(id, target, why);
    neverStarted = taskStates.length - done - failed - running;
    retries.clear();
    dropDelayed();
    nextFresh = taskStates.length;
    if (running == 0) {
      finish(target, why);
      return true;
    }
    state = JobState.CANCELLING;
    error = why;
    watchers.emit(event().setState(state).build());
    progress(true);
    return true;
  }

  private boolean stopIfSettled() {
    if (running > 0) {
      // One event per stopped task: few, and a watcher must see the last count before the end.
      progress(true);
      return false;
    }
    finish(stopTarget, stopReason);
    return true;
  }

  /**
   * The coordinator stops with this job unfinished: what its plan holds open is let go (the job
   * resumes from the journal after a restart, planned again).
   */
  void releasePlan() {
    if (plan != null) {
      inputs.release();
      plan.close();
    }
  }

  private void finish(JobState end, String why) {
    state = end;
    error = why;
    finishedMs = clock.epochMs();
    running = 0;
    retries.clear();
    dropDelayed();
    waitingReason = "";
    nextFresh = taskStates.length;
    inputs.release();
    // Its file (a hash job's) is released as the job ends, whichever way it ends.
    plan.close();
    Job last = toProto();
    ended = last;
    journal.finished(last);
    watchers.finish(event().setFinished(last).build());
    onFinish.accept(this);
  }

  private void recordFailure(TaskFailure failure) {
    if (failures.size() < MAX_RECORDED_FAILURES) {
      failures.add(failure);
    }
  }

  /** A failed attempt, at {@code nowMs}; it runs again at {@code retryAtMs} unless that is 0. */
  private TaskFailure failure(
      int task, String workerId, String message, long nowMs, long retryAtMs, int exitCode) {
    TaskFailure.Builder failure =
        TaskFailure.newBuilder()
            .setTask(task)
            .setAttempt(attemptsByTask[task])
            .setWorkerId(workerId)
            .setError(message)
            .setTime(Timestamps.fromMillis(nowMs));
    if (retryAtMs > 0) {
      failure.setRetryAt(Timestamps.fromMillis(retryAtMs));
    }
    if (exitCode != NO_EXIT_CODE) {
      failure.setExitCode(exitCode);
    }
    return failure.build();
  }

  /** The output a task that failed for good left (an exec task's exit code and output tails). */
  private void addFailureOutput(int task, ByteString output) {
    if (output.isEmpty()) {
      return;
    }
    try {
      reduction.add(task, output);
    } catch (InvalidTaskOutputException | RuntimeException e) {
      // The failure is already recorded; an unusable failure output only loses detail.
      LOG.log(
          System.Logger.Level.DEBUG, "job " + id + " task " + task + ": failure output dropped", e);
    }
  }

  private void taskEvent(int task, TaskState taskState, String workerId, String detail) {
    switch (taskState) {
      case TASK_SUCCEEDED -> counts.succeeded++;
      case TASK_FAILED -> counts.failed++;
      case TASK_PENDING -> counts.retried++; // only a failed attempt makes a task pending again
      case TASK_CANCELLED -> counts.cancelled++;
      default -> {}
    }
    if (watchers.wantsTasks()) {
      watchers.emitTask(
          event()
              .setTask(
                  TaskEvent.newBuilder()
                      .setTask(task)
                      .setState(taskState)
                      .setWorkerId(workerId)
                      .setDetail(detail))
              .build());
    }
  }

  private void progress(boolean force) {
    if (!watchers.isEmpty()) {
      long now = clock.nanoTime();
      if (force || now - lastProgressNanos >= PROGRESS_INTERVAL_NANOS) {
        lastProgressNanos = now;
        watchers.emit(
            event()
                .setProgress(
                    Progress.newBuilder()
                        .setDone(done)
                        .setFailed(failed)
                        .setRunning(running)
                        .setTotal(taskStates.length))
                .build());
      }
    }
  }

  private JobEvent.Builder event() {
    return JobEvent.newBuilder().setJobId(id);
  }

  Job toProto() {
    if (frozen != null) {
      return frozen;
    }
    if (ended != null) {
      return ended;
    }
    Job.Builder job =
        Job.newBuilder()
            .setId(id)
            .setKind(kindName)
            .setSpec(spec)
            .setState(state)
            .setTasksTotal(taskStates.length)
            .setTasksDone(done)
            .setTasksFailed(failed)
            .setTasksRunning(running)
            .setCreated(Timestamps.fromMillis(createdMs))
            .setError(error)
            .addAllFailures(failures)
            .setAttempts(attempts)
            .addAllStops(stops)
            .setTasksStopped(stopped)
            .setTasksNeverStarted(neverStarted)
            .setPreemptions(preemptions)
            .setWaitingReason(waitingReason());
    if (priority != spec.getPriority()) {
      job.setSpec(spec.toBuilder().setPriority(priority));
    }
    if (startedMs != 0) {
      job.setStarted(Timestamps.fromMillis(startedMs));
    }
    if (finishedMs != 0) {
      job.setFinished(Timestamps.fromMillis(finishedMs));
    }
    if (result != null) {
      job.setResult(result);
    }
    return job.build();
  }

  /**
   * Why nothing of the job runs now: the jobs it waits for, or its tasks' retry delays when those
   * are all that is left to run; empty otherwise.
   */
  private String waitingReason() {
    if (isWaiting()) {
      return waitingReason;
    }
    if (delayed.isEmpty() || running > 0 || hasPending()) {
      return "";
    }
    long next = delayed.peek().retryAtMs();
    int count = delayed.size();
    return (count == 1 ? "1 task waits" : count + " tasks wait")
        + " to be retried; the next runs again at "
        + Instant.ofEpochMilli(next);
  }

  JobState state() {
    return state;
  }

  long finishedMs() {
    return finishedMs;
  }
}
