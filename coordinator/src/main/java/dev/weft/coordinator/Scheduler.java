package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Durations;
import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.Assignments;
import dev.weft.v1.CancelTasks;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Drain;
import dev.weft.v1.FastPathClosed;
import dev.weft.v1.Heartbeat;
import dev.weft.v1.Hello;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import dev.weft.v1.Welcome;
import dev.weft.v1.WorkerInfo;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Hands tasks to workers with credit and folds their results into jobs. One lock guards all of it:
 * every operation is short, and links never block (see {@link WorkerLink}). The journal is written
 * by its own thread: under the lock, recording only queues (see {@link Journal}); the one commit a
 * submission waits for happens before the lock is taken.
 *
 * <p>It knows workers only as {@link WorkerLink}s: which transport carries a link is not its
 * concern.
 */
final class Scheduler {
  private static final int MAX_BATCH = 256;
  // Keeps a batch within one shared-memory ring frame and far below gRPC's message limits.
  private static final int MAX_BATCH_BYTES = 1 << 20;
  // A lost same-host worker gets this long (or two leases) to attach again before it is killed.
  private static final long RECLAIM_PATIENCE_MS = 10_000;
  private static final long STOP_ANSWER_SLACK_MS = 2_000;
  private static final System.Logger LOG = System.getLogger(Scheduler.class.getName());

  private final CoordinatorConfig config;
  private final String coordinatorId;
  private final JobKinds kinds;
  private final Executor eventExecutor;
  private final ScheduledExecutorService timers;
  private final LongSupplier nanoClock;
  private final SilentWorkers silentWorkers;
  private final Journal journal;
  private final JobBook jobs;

  private final ArrayDeque<JobRun> runnable = new ArrayDeque<>();
  private final Map<String, WorkerSession> workers = new LinkedHashMap<>();
  // Workers an operator drained, by id, with why: kept when such a worker attaches again.
  private final Map<String, String> drained = new HashMap<>();
  private long nextAttemptId = 1;
  private boolean accepting = true;

  Scheduler(
      CoordinatorConfig config,
      String coordinatorId,
      JobKinds kinds,
      Executor eventExecutor,
      ScheduledExecutorService timers,
      LongSupplier nanoClock,
      Journal journal) {
    this.config = config;
    this.journal = journal;
    this.jobs = new JobBook(journal, config.retainedFinishedJobs());
    this.coordinatorId = coordinatorId;
    this.kinds = kinds;
    this.eventExecutor = eventExecutor;
    this.timers = timers;
    this.nanoClock = nanoClock;
    this.silentWorkers =
        new SilentWorkers(
            timers,
            config.defaultGrace().toMillis(),
            Math.max(RECLAIM_PATIENCE_MS, 2 * config.leaseMs()),
            this::stillLost);
  }

  // ---- jobs ----

  /** Validates and queues a job. Throws a status exception naming the bad field. */
  Job submit(JobSpec spec) {
    JobKind kind;
    TaskPlan plan;
    try {
      JobSpecRules.check(spec);
      kind = kinds.kindOf(spec);
      plan = kind.plan(spec);
    } catch (InvalidJobException e) {
      throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
    }
    if (plan.taskCount() > config.maxTasksPerJob()) {
      throw Status.INVALID_ARGUMENT
          .withDescription(
              "tasks: the job splits into "
                  + plan.taskCount()
                  + " tasks; this coordinator allows 1.."
                  + config.maxTasksPerJob())
          .asRuntimeException();
    }
    long graceMs = JobSpecRules.graceMs(spec, config.defaultGrace().toMillis());
    long createdMs = System.currentTimeMillis();
    String id;
    synchronized (this) {
      if (!accepting) {
        throw Status.UNAVAILABLE
            .withDescription("the coordinator is shutting down and takes no new jobs")
            .asRuntimeException();
      }
      id = jobs.reserveId();
    }
    try {
      // Durable before anyone hears of the job; outside the lock, which other work needs.
      journal.submitted(id, spec, plan.taskCount(), createdMs);
    } catch (Journal.JournalException e) {
      synchronized (this) {
        jobs.release(id);
      }
      throw Status.UNAVAILABLE
          .withDescription("the job could not be recorded: " + e.getMessage())
          .withCause(e)
          .asRuntimeException();
    }
    synchronized (this) {
      if (!accepting && !journal.isDurable()) {
        jobs.release(id);
        throw Status.UNAVAILABLE
            .withDescription("the coordinator is shutting down and takes no new jobs")
            .asRuntimeException();
      }
      // A journaled job is taken even if shutdown began meanwhile: it resumes at the next start.
      JobRun job =
          new JobRun(
              id,
              spec,
              kind,
              plan,
              graceMs,
              new JobWatchers(eventExecutor),
              createdMs,
              journal,
              this::finished);
      jobs.add(job);
      runnable.addLast(job);
      if (spec.hasTimeout()) {
        long timeoutMs = Durations.toMillis(spec.getTimeout());
        timers.schedule(() -> timeOut(id, timeoutMs), timeoutMs, TimeUnit.MILLISECONDS);
      }
      dispatch();
      return job.toProto();
    }
  }

  /**
   * Takes back the jobs the journal kept across a restart, before any client or worker is served:
   * finished ones stay queryable; unfinished ones resume with their recorded results folded in, so
   * only the other tasks run. A job that was stopping ends as its stop asked; a job past its
   * timeout (counted from its submission) fails.
   */
  void restore(List<Journal.SavedJob> saved) {
    // Planning may read files (hash): done before taking the lock.
    JobRestorer rebuilder =
        new JobRestorer(
            kinds, config.defaultGrace().toMillis(), journal, eventExecutor, this::finished);
    Map<Journal.SavedJob, JobRun> runs = new LinkedHashMap<>();
    for (Journal.SavedJob job : saved) {
      runs.put(job, rebuilder.rebuild(job));
    }
    long nowMs = System.currentTimeMillis();
    synchronized (this) {
      jobs.addRestored(runs.values());
      // Jobs that end as they resume queue for forgetting after those that had finished before.
      runs.forEach(
          (savedJob, run) -> {
            if (!run.isFinished()) {
              resume(savedJob, run, nowMs);
            }
          });
    }
  }

  private void resume(Journal.SavedJob saved, JobRun run, long nowMs) {
    String id = run.id();
    if (saved.stopTarget() != null) {
      // Nothing of it runs any more: its stop completes now, as it asked.
      String reason =
          saved.stopReason() + " (the coordinator restarted before its running tasks had stopped)";
      if (saved.stopTarget() == JobState.CANCELLED) {
        run.cancel(reason);
      } else {
        run.abort(reason);
      }
      return;
    }
    if (run.settleRestored()) {
      return; // every task had its result: only the end was not recorded
    }
    JobSpec spec = run.spec();
    if (spec.hasTimeout()) {
      long timeoutMs = Durations.toMillis(spec.getTimeout());
      long leftMs = run.createdMs() + timeoutMs - nowMs;
      if (leftMs <= 0) {
        run.abort("timed out after " + formatMs(timeoutMs));
        return;
      }
      timers.schedule(() -> timeOut(id, timeoutMs), leftMs, TimeUnit.MILLISECONDS);
    }
    if (run.hasPending()) {
      runnable.addLast(run);
    }
    LOG.log(
        System.Logger.Level.INFO,
        "resuming job {0} ({1}): {2} of {3} tasks recorded before the restart",
        id,
        run.kindName(),
        saved.results().size(),
        run.plan().taskCount());
  }

  synchronized Job get(String id) {
    return jobs.find(id).toProto();
  }

  synchronized List<Job> list(Set<JobState> states, int limit) {
    return jobs.list(states, limit);
  }

  synchronized void watch(String id, ServerCallStreamObserver<JobEvent> stream, boolean tasks) {
    JobRun job = jobs.find(id);
    stream.setOnCancelHandler(() -> unwatch(job, stream));
    job.watchers()
        .add(stream, tasks, JobEvent.newBuilder().setJobId(id).setSnapshot(job.toProto()).build());
  }

  private synchronized void unwatch(JobRun job, ServerCallStreamObserver<JobEvent> stream) {
    job.watchers().remove(stream);
  }

  /**
   * Cancels a job: its queued tasks never start and its running ones are told to stop, with {@code
   * graceMs} between SIGTERM and SIGKILL (negative: the job's own grace). The boolean says whether
   * the job was still running (a job already stopping counts as cancelled).
   */
  synchronized Map.Entry<Job, Boolean> cancel(String id, String reason, long graceMs) {
    JobRun job = jobs.find(id);
    if (job.isStopping()) {
      return Map.entry(job.toProto(), true);
    }
    boolean cancelled = job.cancel(reason.isEmpty() ? "cancelled by request" : reason);
    if (cancelled) {
      stopRunningTasks(job, "job cancelled", graceMs < 0 ? job.graceMs() : graceMs);
    }
    return Map.entry(job.toProto(), cancelled);
  }

  private synchronized void timeOut(String id, long timeoutMs) {
    JobRun job = jobs.get(id);
    if (job != null && job.abort("timed out after " + formatMs(timeoutMs))) {
      stopRunningTasks(job, "job timed out", job.graceMs());
    }
  }

  private static String formatMs(long ms) {
    return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
  }

  /**
   * The job was cancelled or timed out: ask workers to stop its running tasks, and stop waiting for
   * their answers once the grace period and a lease have passed (a worker that does not answer by
   * then is lost anyway).
   */
  private void stopRunningTasks(JobRun job, String reason, long graceMs) {
    runnable.remove(job);
    if (!job.isStopping()) {
      return; // nothing was running: the job has already ended
    }
    cancelAttempts(job, reason, graceMs);
    long patienceMs = graceMs + config.leaseMs() + STOP_ANSWER_SLACK_MS;
    String id = job.id();
    timers.schedule(() -> stopWaiting(id), patienceMs, TimeUnit.MILLISECONDS);
  }

  private synchronized void stopWaiting(String id) {
    JobRun job = jobs.get(id);
    if (job == null || !job.isStopping()) {
      return;
    }
    for (WorkerSession session : workers.values()) {
      for (WorkerSession.Attempt attempt : session.inflight().values()) {
        if (attempt.job() == job && job.isRunning(attempt.task())) {
          // The attempt stays in flight: the worker's late answer still returns its slot.
          job.stopped(
              attempt.task(),
              session.id(),
              StopOutcome.NO_ANSWER,
              "no answer to the cancel within the grace period and a lease");
        }
      }
    }
  }

  /** Forgets the jobs that finished longer ago than the retention, here and in the journal. */
  synchronized void pruneExpired() {
    jobs.pruneFinishedBefore(System.currentTimeMillis() - config.retention().toMillis());
  }

  /**
   * Every job's end passes here, whatever ended it (under the lock: a job ends in a call of ours).
   */
  private void finished(JobRun job) {
    jobs.finished(job);
  }

  /** The journal wrote the backlog that held dispatching up. */
  synchronized void journalCaughtUp() {
    dispatch();
  }

  /** Completes with the job's final state once it ends. */
  synchronized CompletableFuture<Job> whenFinished(String id) {
    return jobs.whenFinished(id);
  }

  // ---- workers ----

  /** Registers a worker after its hello; returns its session, or throws on a bad hello. */
  synchronized WorkerSession attach(Hello hello, WorkerLink link) {
    String id = hello.getWorkerId();
    WorkerSession previous = workers.get(id);
    if (previous != null && isSameProcess(previous.hello(), hello)) {
      // The same worker reconnecting before we noticed its old stream break.
      detach(previous, "replaced by a new connection of the same worker");
      previous.link().close("replaced by a new connection of the same worker");
    } else if (previous != null) {
      // Another process chose a name in use: both keep working, under distinct names.
      int suffix = 2;
      while (workers.containsKey(hello.getWorkerId() + "-" + suffix)) {
        suffix++;
      }
      id = hello.getWorkerId() + "-" + suffix;
    }
    WorkerSession session = new WorkerSession(id, hello, link, nanoClock.getAsLong());
    session.drainedBecause(drained.get(id));
    workers.put(id, session);
    link.send(
        CoordinatorMessage.newBuilder()
            .setWelcome(
                Welcome.newBuilder()
                    .setWorkerId(id)
                    .setCoordinatorId(coordinatorId)
                    .setHeartbeatIntervalMs(config.heartbeatIntervalMs())
                    .setLeaseMs(config.leaseMs()))
            .build());
    if (!accepting) {
      session.drain();
      link.send(drainMessage());
    }
    notifyAll();
    return session;
  }

  private static boolean isSameProcess(Hello a, Hello b) {
    return a.getPid() == b.getPid()
        && a.getProcessStartTicks() == b.getProcessStartTicks()
        && a.getHost().getHostname().equals(b.getHost().getHostname())
        && a.getHost().getBootId().equals(b.getHost().getBootId());
  }

  synchronized void credit(WorkerSession session, int slots) {
    session.seen(nanoClock.getAsLong());
    if (!isAttached(session)) {
      return;
    }
    if (slots < 0 || session.credit() + slots > session.maxCredit()) {
      session.link().close("credit " + slots + " out of range");
      detach(session, "sent credit out of range");
      return;
    }
    session.addCredit(slots);
    dispatch();
  }

  synchronized void results(WorkerSession session, List<TaskResult> results) {
    session.seen(nanoClock.getAsLong());
    if (!isAttached(session)) {
      return;
    }
    for (TaskResult result : results) {
      WorkerSession.Attempt attempt = session.complete(result.getAttemptId());
      if (attempt == null) {
        continue; // an attempt we already gave up on: its result must not count twice
      }
      JobRun job = attempt.job();
      boolean ended;
      if (result.getOk()) {
        ended = job.succeed(attempt.task(), result.getOutput(), session.id());
      } else if (result.getCancelled()) {
        if (result.getStop() == StopOutcome.STUCK) {
          // The task still holds its slot; the worker returns it with a credit when it ends.
          session.holdSlot();
        }
        if (job.isStopping()) {
          ended =
              job.stopped(
                  attempt.task(),
                  session.id(),
                  result.getStop() == StopOutcome.STOP_OUTCOME_UNSPECIFIED
                      ? StopOutcome.STOPPED
                      : result.getStop(),
                  result.getError());
        } else {
          // Cancelled for another reason (the worker is leaving): run it again elsewhere.
          ended = job.handBack(attempt.task());
          requeue(job);
        }
      } else {
        ended =
            job.fail(
                attempt.task(),
                result.getError(),
                result.getApplicationError(),
                session.id(),
                result.getOutput());
        requeue(job);
      }
      if (ended) {
        jobEnded(job);
      }
    }
    dispatch();
  }

  synchronized void heartbeat(WorkerSession session, Heartbeat heartbeat) {
    session.seen(nanoClock.getAsLong());
    session.stuck(Math.max(0, heartbeat.getStuck()));
  }

  /** The worker hands back attempts it will not finish (it is draining). */
  synchronized void handBack(WorkerSession session, List<Long> attemptIds) {
    for (long attemptId : attemptIds) {
      WorkerSession.Attempt attempt = session.complete(attemptId);
      if (attempt != null) {
        if (attempt.job().handBack(attempt.task())) {
          jobEnded(attempt.job());
        }
        requeue(attempt.job());
      }
    }
    session.drain();
    dispatch();
  }

  /** The worker's link is gone: its attempts go back to the queue. */
  synchronized void detached(WorkerSession session, String reason) {
    if (isAttached(session)) {
      detach(session, reason);
      dispatch();
    }
  }

  private boolean isAttached(WorkerSession session) {
    return workers.get(session.id()) == session;
  }

  private void detach(WorkerSession session, String reason) {
    workers.remove(session.id());
    session.link().release();
    for (WorkerSession.Attempt attempt : session.inflight().values()) {
      if (attempt.job().lose(attempt.task(), session.id(), reason)) {
        jobEnded(attempt.job());
      } else {
        requeue(attempt.job());
      }
    }
    session.inflight().clear();
    notifyAll();
  }

  /** Moves a worker's traffic to {@code next} if it is still on {@code expected}. */
  synchronized boolean switchLink(WorkerSession session, WorkerLink expected, WorkerLink next) {
    if (!isAttached(session) || session.link() != expected) {
      return false;
    }
    session.switchLink(next);
    notifyAll();
    return true;
  }

  /** Waits until some attached worker's link is of {@code transport}; false on timeout. */
  synchronized boolean awaitTransport(String transport, long timeoutNanos)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    while (workers.values().stream().noneMatch(w -> w.link().transport().equals(transport))) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  /**
   * The fast path under a worker failed: back to {@code control}, withdrawing every outstanding
   * attempt (the worker cancels them; late results no longer count) so no task is lost or counted
   * twice. The worker then announces its credit afresh.
   */
  synchronized void fallBack(
      WorkerSession session, WorkerLink failed, WorkerLink control, String reason) {
    if (!isAttached(session) || session.link() != failed) {
      return;
    }
    session.switchLink(control);
    for (WorkerSession.Attempt attempt : session.withdrawAll().values()) {
      if (attempt.job().handBack(attempt.task())) {
        jobEnded(attempt.job());
      }
      requeue(attempt.job());
    }
    control.send(
        CoordinatorMessage.newBuilder()
            .setFastPathClosed(FastPathClosed.newBuilder().setReason(reason))
            .build());
    dispatch();
  }

  /**
   * Takes worker {@code id} out of service: no new tasks, the ones it has run to their end. Throws
   * NOT_FOUND when no worker of that id is attached.
   */
  synchronized WorkerInfo drainWorker(String id, String reason) {
    WorkerSession session = attachedWorker(id);
    String why = reason.isBlank() ? "drained by an operator" : reason;
    drained.put(id, why);
    session.drainedBecause(why);
    LOG.log(System.Logger.Level.INFO, "worker {0} drained: {1}", id, why);
    return session.toProto();
  }

  /** Puts a drained worker back in service; resuming one that is not drained changes nothing. */
  synchronized WorkerInfo resumeWorker(String id) {
    WorkerSession session = attachedWorker(id);
    if (drained.remove(id) != null) {
      session.drainedBecause(null);
      LOG.log(System.Logger.Level.INFO, "worker {0} resumed", id);
      dispatch();
    }
    return session.toProto();
  }

  private WorkerSession attachedWorker(String id) {
    WorkerSession session = workers.get(id);
    if (session == null) {
      throw Status.NOT_FOUND
          .withDescription(
              "no worker with id '" + id + "' is attached (see `weft workers` for those that are)")
          .asRuntimeException();
    }
    return session;
  }

  synchronized List<WorkerInfo> listWorkers() {
    List<WorkerInfo> out = new ArrayList<>();
    for (WorkerSession session : workers.values()) {
      out.add(session.toProto());
    }
    out.sort(Comparator.comparing(WorkerInfo::getId));
    return out;
  }

  synchronized boolean awaitWorkers(int count, long timeoutNanos) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    while (workers.size() < count) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  synchronized boolean awaitNoWorkers(long timeoutNanos) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    while (!workers.isEmpty()) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  /** Sends heartbeats and closes links whose worker was silent past its lease. */
  synchronized void tick() {
    long now = nanoClock.getAsLong();
    long leaseNanos = TimeUnit.MILLISECONDS.toNanos(config.leaseMs());
    CoordinatorMessage beat =
        CoordinatorMessage.newBuilder()
            .setHeartbeat(Heartbeat.newBuilder().setSentUnixMs(System.currentTimeMillis()))
            .build();
    for (WorkerSession session : new ArrayList<>(workers.values())) {
      if (session.link().revoked()) {
        detach(session, "its credentials were revoked");
        session
            .link()
            .refuse(
                Status.UNAUTHENTICATED.withDescription(
                    "the join token this worker attached with was revoked (weft token rotate"
                        + " --detach-workers); start it with the new token from `weft token show`"
                        + " on the coordinator's host"));
        continue;
      }
      if (now - session.lastSeenNanos() > leaseNanos) {
        String reason =
            String.format(Locale.ROOT, "silent for more than its lease of %d ms", config.leaseMs());
        detach(session, reason);
        session.link().close(reason);
        silentWorkers.reclaim(session.id(), session.hello());
      } else {
        session.link().send(beat);
      }
    }
    dispatch();
  }

  /** True while we take work and the process behind {@code hello} has not attached again. */
  private synchronized boolean stillLost(Hello hello) {
    return accepting && !reattached(hello);
  }

  /** True when the process behind {@code hello} is attached again on another link. */
  private boolean reattached(Hello hello) {
    return workers.values().stream().anyMatch(w -> isSameProcess(w.hello(), hello));
  }

  /** Stops taking jobs and tells every worker to drain. */
  synchronized void stopAccepting() {
    accepting = false;
    for (WorkerSession session : workers.values()) {
      session.drain();
      session.link().send(drainMessage());
    }
    for (JobRun job : jobs.all()) {
      job.watchers().abort(Status.UNAVAILABLE.withDescription("the coordinator is shutting down"));
    }
  }

  /**
   * Closes every link as the coordinator stops. Their attempts go back to the queue at no cost: the
   * workers did nothing wrong, and the jobs resume after a restart from the journal.
   */
  synchronized void closeAllLinks(String reason) {
    for (WorkerSession session : new ArrayList<>(workers.values())) {
      for (WorkerSession.Attempt attempt : session.withdrawAll().values()) {
        if (attempt.job().handBack(attempt.task())) {
          jobEnded(attempt.job());
        }
      }
      detach(session, reason);
      session.link().close(reason);
    }
  }

  private static CoordinatorMessage drainMessage() {
    return CoordinatorMessage.newBuilder()
        .setDrain(Drain.newBuilder().setReason("the coordinator is shutting down"))
        .build();
  }

  // ---- dispatch ----

  private void requeue(JobRun job) {
    if (job.hasPending() && !runnable.contains(job)) {
      runnable.addLast(job);
    }
  }

  private void jobEnded(JobRun job) {
    runnable.remove(job);
    if (job.state() != JobState.SUCCEEDED) {
      cancelAttempts(job, "job " + job.state().name().toLowerCase(Locale.ROOT), job.graceMs());
    }
  }

  /** Asks workers to stop the job's outstanding attempts; their slots return with the answers. */
  private void cancelAttempts(JobRun job, String reason, long graceMs) {
    for (WorkerSession session : workers.values()) {
      CancelTasks.Builder cancel = CancelTasks.newBuilder().setGraceMs(graceMs).setReason(reason);
      for (Map.Entry<Long, WorkerSession.Attempt> entry : session.inflight().entrySet()) {
        if (entry.getValue().job() == job) {
          cancel.addAttemptIds(entry.getKey());
        }
      }
      if (cancel.getAttemptIdsCount() > 0) {
        session.link().send(CoordinatorMessage.newBuilder().setCancel(cancel).build());
      }
    }
  }

  /** Gives every worker with credit as many tasks as it has credit for, round-robin over jobs. */
  private void dispatch() {
    if (runnable.isEmpty() || journal.isBehind()) {
      return; // when the journal is behind, journalCaughtUp() resumes
    }
    for (WorkerSession session : workers.values()) {
      if (runnable.isEmpty()) {
        return;
      }
      Assignments.Builder batch = null;
      int batchBytes = 0;
      while (session.credit() > 0) {
        JobRun job = nextJobFor(session);
        if (job == null) {
          break;
        }
        int task = job.takeTask();
        ByteString input;
        try {
          input = job.plan().input(task);
        } catch (IOException | RuntimeException e) {
          if (job.fail(task, "cannot read task input: " + e.getMessage(), true, "coordinator")) {
            jobEnded(job);
          } else {
            requeue(job);
          }
          continue;
        }
        if (job.hasPending()) {
          runnable.addLast(job);
        }
        long attemptId = nextAttemptId++;
        session.assign(attemptId, new WorkerSession.Attempt(job, task, job.attemptOf(task)));
        if (batch == null) {
          batch = Assignments.newBuilder();
        }
        batch.addTasks(
            TaskAssignment.newBuilder()
                .setAttemptId(attemptId)
                .setJobId(job.id())
                .setTask(task)
                .setAttempt(job.attemptOf(task))
                .setKind(job.kindName())
                .setInput(input)
                .setGraceMs(job.graceMs()));
        batchBytes += input.size();
        if (batch.getTasksCount() >= MAX_BATCH || batchBytes >= MAX_BATCH_BYTES) {
          session.link().send(CoordinatorMessage.newBuilder().setAssignments(batch).build());
          batch = null;
          batchBytes = 0;
        }
      }
      if (batch != null) {
        session.link().send(CoordinatorMessage.newBuilder().setAssignments(batch).build());
      }
    }
  }

  /** Takes the first runnable job this worker can run off the queue (fair: it goes to the back). */
  private JobRun nextJobFor(WorkerSession session) {
    for (Iterator<JobRun> it = runnable.iterator(); it.hasNext(); ) {
      JobRun job = it.next();
      if (!job.hasPending()) {
        it.remove();
        continue;
      }
      if (session.runs(job.kindName()) && job.mayRunOn(session.id())) {
        it.remove();
        return job;
      }
    }
    return null;
  }
}
