package dev.weft.coordinator;

import com.google.protobuf.util.Durations;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.CancelTasks;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Drain;
import dev.weft.v1.Heartbeat;
import dev.weft.v1.Hello;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.ShmClosed;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.TaskResult;
import dev.weft.v1.Welcome;
import dev.weft.v1.WorkerInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The coordinator's state and what happens to it: jobs ({@link JobBook}), attached workers ({@link
 * WorkerRegistry}), the handing out of tasks ({@link Dispatcher}) and leases ({@link Leases}).
 * Every method runs on the {@link Conductor}'s thread: other threads post commands there, so
 * nothing here is locked, and nothing here blocks — links, watchers and the journal take what they
 * are given into outboxes of their own.
 *
 * <p>It knows workers only as {@link WorkerLink}s: which transport carries a link is not its
 * concern.
 */
final class Scheduler {
  // A lost same-host worker gets this long (or two leases) to attach again before it is killed.
  private static final long RECLAIM_PATIENCE_MS = 10_000;
  private static final long STOP_ANSWER_SLACK_MS = 2_000;
  private static final System.Logger LOG = System.getLogger(Scheduler.class.getName());

  /**
   * A job just submitted, and when its spec is durable; {@code repeat} when the submission named
   * the request id of one made before, whose job this is.
   */
  record Submission(JobRun job, CompletableFuture<Void> durable, boolean repeat) {}

  private final CoordinatorConfig config;
  private final String coordinatorId;
  private final JobKinds kinds;
  private final Conductor conductor;
  private final Executor io;
  private final SilentWorkers silentWorkers;
  private final Journal journal;
  private final JobBook jobs;
  private final WorkerRegistry workers = new WorkerRegistry();
  private final TaskCounts counts = new TaskCounts();
  // Link round trips timed on heartbeats, by transport (see Leases).
  private final TransportHistogram roundTrips =
      new TransportHistogram(Leases.ROUND_TRIP_BOUNDS_SECONDS);
  private final Dispatcher dispatcher;
  private final Leases leases;
  private final Outboxes outboxes = new Outboxes();
  private final WorkerNames names = new WorkerNames();
  private final LogRelays logRelays =
      new LogRelays(
          new LogRelays.Clock() {
            @Override
            public long nanoTime() {
              return conductor.nanoTime();
            }

            @Override
            public Conductor.Timer schedule(long delayMs, Runnable action) {
              return conductor.schedule(delayMs, action);
            }
          });
  private final ClientLimits limits;
  private final JobDependencies dependencies;
  // Verdicts on waiting jobs that ends of their dependencies gave, applied in turn (an end can
  // fail a waiting job, whose end judges the jobs that wait for it, and so on down a chain).
  private final ArrayDeque<JobDependencies.Judged> verdicts = new ArrayDeque<>();
  private boolean applyingVerdicts;
  private final RetryTimers retryTimers =
      new RetryTimers() {
        @Override
        public Conductor.Timer schedule(long delayMs, Runnable action) {
          return conductor.schedule(delayMs, action);
        }

        @Override
        public void due(JobRun job) {
          dispatcher.requeue(job);
          requestDispatch();
        }
      };
  // Jobs the journal refused, stopping: forgotten when they end.
  private final Set<String> unrecorded = new java.util.HashSet<>();
  // Attempts told to stop to make room for a higher class, until their answers come back.
  private final Set<Long> preempting = new java.util.HashSet<>();
  private boolean dispatchWanted;
  private boolean accepting = true;

  /**
   * @param io where task inputs that read files are read, off the conductor
   * @param signals where lost same-host workers are signalled, off the conductor
   */
  Scheduler(
      CoordinatorConfig config,
      String coordinatorId,
      JobKinds kinds,
      Conductor conductor,
      Executor io,
      java.util.concurrent.ScheduledExecutorService signals,
      Journal journal) {
    this.config = config;
    this.journal = journal;
    this.jobs = new JobBook(journal, config.retainedFinishedJobs());
    this.dependencies = new JobDependencies(jobs::get);
    this.coordinatorId = coordinatorId;
    this.kinds = kinds;
    this.conductor = conductor;
    this.io = io;
    this.silentWorkers =
        new SilentWorkers(
            conductor,
            signals,
            config.defaultGrace().toMillis(),
            Math.max(RECLAIM_PATIENCE_MS, 2 * config.leaseMs()),
            this::stillLost);
    this.dispatcher =
        new Dispatcher(
            journal,
            conductor,
            owner -> config.ownerWeights().getOrDefault(owner, 1.0),
            this::jobEnded);
    this.leases = new Leases(config.leaseMs(), conductor, conductor::nanoTimeNow);
    this.limits =
        new ClientLimits(
            config.maxUnfinishedJobs(),
            config.maxQueuedTasks(),
            config.maxUnfinishedJobsPerOwner(),
            config.maxQueuedTasksPerOwner());
    conductor.addDuty(this::dispatchIfWanted);
    conductor.addDuty(outboxes);
  }

  /** Starts the periodic work: lease checks and pruning of old jobs. */
  void startTimers() {
    conductor.schedule(config.heartbeatIntervalMs(), this::tickAndRearm);
    long pruneMs = Math.clamp(config.retention().toMillis() / 10, 1_000, 600_000);
    conductor.schedule(pruneMs, () -> pruneAndRearm(pruneMs));
    if (config.preemptAfterMs() > 0) {
      long checkMs = Math.clamp(config.preemptAfterMs() / 4, 50, 1_000);
      conductor.schedule(checkMs, () -> preemptAndRearm(checkMs));
    }
  }

  private void preemptAndRearm(long checkMs) {
    preemptForStarving();
    conductor.schedule(checkMs, () -> preemptAndRearm(checkMs));
  }

  private void tickAndRearm() {
    tick();
    conductor.schedule(config.heartbeatIntervalMs(), this::tickAndRearm);
  }

  private void pruneAndRearm(long pruneMs) {
    pruneExpired();
    conductor.schedule(pruneMs, () -> pruneAndRearm(pruneMs));
  }

  Outboxes outboxes() {
    return outboxes;
  }

  WorkerNames names() {
    return names;
  }

  LogRelays logRelays() {
    return logRelays;
  }

  /** The worker attached as {@code id}, or null. */
  AttachedWorker attached(String id) {
    return workers.get(id);
  }

  /** Dispatch at the end of this duty cycle, once, for whatever arrived in it. */
  void requestDispatch() {
    dispatchWanted = true;
  }

  private void dispatchIfWanted() {
    if (dispatchWanted) {
      dispatchWanted = false;
      dispatcher.dispatch();
    }
  }

  private TaskInputs inputsOf(TaskPlan plan) {
    return TaskInputs.of(plan, io, conductor, this::inputsReady);
  }

  /** Task inputs read off the conductor are ready: workers no job fitted before may fit now. */
  private void inputsReady() {
    dispatcher.wakeParked();
    requestDispatch();
  }

  // ---- jobs ----

  /**
   * Registers a job checked and planned off the conductor, and queues its tasks at once: they may
   * run while the journal syncs its spec. Whoever answers the client waits for {@code durable};
   * should the journal fail, {@link #notRecorded} ends the job. A job that depends on others waits
   * for them instead (WAITING), or fails at once when one of them has already failed.
   */
  Submission submit(JobIntake.Planned planned) {
    if (!accepting) {
      planned.plan().close();
      throw Status.UNAVAILABLE
          .withDescription("the coordinator is shutting down and takes no new jobs")
          .asRuntimeException();
    }
    JobSpec spec = planned.spec();
    TaskPlan plan = planned.plan();
    JobKind kind = planned.kind();
    Submission earlier;
    try {
      earlier = jobs.submittedAs(spec);
    } catch (StatusRuntimeException e) {
      plan.close();
      throw e;
    }
    if (earlier != null) {
      plan.close();
      return earlier;
    }
    try {
      dependencies.checkKnown(spec);
      if (spec.getStrict()) {
        String nowhere =
            Placement.nowhere(
                kind.name(), spec.getWorkersList(), TaskNeeds.of(spec), workers.all());
        if (nowhere != null) {
          throw Status.FAILED_PRECONDITION
              .withDescription(
                  nowhere + "; --strict refuses such a job (without it, the job waits)")
              .asRuntimeException();
        }
      }
      limits.admit(spec.getOwner(), plan.taskCount());
    } catch (StatusRuntimeException e) {
      plan.close(); // not taken: its file (a hash job's) is let go
      throw e;
    }
    long graceMs = JobSpecRules.graceMs(spec, config.defaultGrace().toMillis());
    long createdMs = conductor.epochMs();
    String id = jobs.newId();
    CompletableFuture<Void> durable = journal.submitted(id, spec, plan.taskCount(), createdMs);
    JobRun job =
        new JobRun(
            id,
            spec,
            kind,
            plan,
            graceMs,
            new JobWatchers(),
            createdMs,
            config.maxResultBytes(),
            journal,
            conductor,
            retryTimers,
            counts,
            this::inputsOf,
            this::finished);
    jobs.add(job, durable);
    counts.submitted += plan.taskCount();
    if (spec.getAfterCount() > 0) {
      apply(job, dependencies.judge(spec));
    } else {
      dispatcher.requeue(job);
    }
    if (spec.hasTimeout() && !job.isFinished()) {
      long timeoutMs = Durations.toMillis(spec.getTimeout());
      conductor.schedule(timeoutMs, () -> timeOut(id, timeoutMs));
    }
    requestDispatch();
    return new Submission(job, durable, false);
  }

  /**
   * Does what a verdict on a job's dependencies says: it waits (WAITING) until they end, it runs
   * (queued for dispatch), or it fails without running.
   */
  private void apply(JobRun job, JobDependencies.Verdict verdict) {
    switch (verdict) {
      case JobDependencies.Waiting waiting -> {
        job.await(waiting.reason());
        dependencies.await(job, waiting);
      }
      case JobDependencies.Ready ready -> {
        job.release();
        dispatcher.requeue(job);
        requestDispatch();
      }
      case JobDependencies.Failed failed -> job.failUnstarted(failed.reason());
    }
  }

  /** Applies the verdicts waiting; one at a time, however many ends each one causes. */
  private void applyVerdicts() {
    if (applyingVerdicts) {
      return; // the loop below is already running, further up this call
    }
    applyingVerdicts = true;
    try {
      JobDependencies.Judged next;
      while ((next = verdicts.poll()) != null) {
        if (next.job().isWaiting()) {
          apply(next.job(), next.verdict());
        }
      }
    } finally {
      applyingVerdicts = false;
    }
  }

  /**
   * The journal could not record job {@code id}: its submitter was refused, so it stops, and is
   * forgotten once its running tasks have.
   */
  void notRecorded(String id, String why) {
    JobRun job = jobs.get(id);
    if (job == null) {
      return;
    }
    unrecorded.add(id);
    if (job.abort("the job could not be recorded in the journal: " + why)) {
      stopRunningTasks(job, "job not recorded", job.graceMs());
    } else if (job.isFinished()) {
      unrecorded.remove(id);
      jobs.dropUnrecorded(job);
    }
  }

  /**
   * A record of job {@code id}, accepted and running, could never be written to the journal (see
   * {@link SqliteJournal#start}): it fails, saying so, rather than run on unrecorded.
   */
  void notWritable(String id, String why) {
    JobRun job = jobs.get(id);
    if (job != null && job.abort("the job could not be recorded in the journal: " + why)) {
      stopRunningTasks(job, "job not recorded", job.graceMs());
    }
  }

  /**
   * The submitter of job {@code id} gave up (its deadline passed) before the job was durable: it
   * was told the submission failed, so the job must not run on.
   */
  void submitterGaveUp(String id) {
    JobRun job = jobs.get(id);
    if (job != null
        && job.cancel("the submitter gave up (deadline or cancel) before the job was accepted")) {
      stopRunningTasks(job, "job cancelled", job.graceMs());
    }
  }

  /**
   * Takes back the jobs the journal kept across a restart, before the conductor starts: finished
   * ones stay queryable; unfinished ones resume with their recorded results folded in, so only the
   * other tasks run. A job that was stopping ends as its stop asked; a job past its timeout
   * (counted from its submission) fails.
   */
  void restore(List<Journal.SavedJob> saved) {
    JobRestorer rebuilder =
        new JobRestorer(
            kinds,
            ReadableRoots.of(config),
            config.defaultGrace().toMillis(),
            config.maxResultBytes(),
            journal,
            conductor,
            retryTimers,
            counts,
            this::inputsOf,
            this::finished);
    Map<Journal.SavedJob, JobRun> runs = new LinkedHashMap<>();
    for (Journal.SavedJob job : saved) {
      runs.put(job, rebuilder.rebuild(job));
    }
    long nowMs = conductor.epochMs();
    jobs.addRestored(runs.values());
    // Jobs that end as they resume queue for forgetting after those that had finished before.
    List<JobRun> waiting = new ArrayList<>();
    runs.forEach(
        (savedJob, run) -> {
          if (!run.isFinished()) {
            limits.restored(run.spec().getOwner(), run.plan().taskCount());
            resume(savedJob, run, nowMs);
            if (run.isWaiting()) {
              waiting.add(run);
            }
          }
        });
    // Judged once every job is back, so each sees what became of the jobs it names.
    for (JobRun run : waiting) {
      apply(run, dependencies.judge(run.spec()));
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
      conductor.schedule(leftMs, () -> timeOut(id, timeoutMs));
    }
    if (spec.getAfterCount() > 0 && run.state() == JobState.QUEUED) {
      // Nothing of it ran: it waits again until the jobs it names are judged (see restore).
      run.await("until the jobs it names have ended");
      return;
    }
    dispatcher.requeue(run);
    LOG.log(
        System.Logger.Level.INFO,
        "resuming job {0} ({1}): {2} of {3} tasks recorded before the restart",
        id,
        run.kindName(),
        saved.results().size(),
        run.plan().taskCount());
  }

  Job get(String id) {
    JobRun job = jobs.find(id);
    Job proto = job.toProto();
    if (job.hasPending() && proto.getWaitingReason().isEmpty()) {
      String why = Placement.whyWaiting(job, workers.all());
      if (!why.isEmpty()) {
        return proto.toBuilder().setWaitingReason(why).build();
      }
    }
    return proto;
  }

  /**
   * Moves a waiting, queued or running job to another priority class; FAILED_PRECONDITION for one
   * that has ended or is stopping.
   */
  Job setPriority(String id, int priority) {
    JobRun job = jobs.find(id);
    if (job.isFinished() || job.isStopping()) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "job "
                  + id
                  + " is "
                  + job.state().name()
                  + "; only a waiting, queued or running job can change priority")
          .asRuntimeException();
    }
    if (job.priority() != priority) {
      dispatcher.order().reprioritize(job, priority);
      job.priority(priority);
      journal.reprioritized(id, job.spec().toBuilder().setPriority(priority).build());
      LOG.log(System.Logger.Level.INFO, "job {0} moved to priority {1}", id, priority);
      requestDispatch();
    }
    return get(id);
  }

  JobRun find(String id) {
    return jobs.find(id);
  }

  List<Job> list(Set<JobState> states, int limit) {
    return jobs.list(states, limit);
  }

  /** Adds a watcher of job {@code id}; its first event is a snapshot of the job. */
  void watch(String id, JobWatchers.Watcher watcher) {
    JobRun job = jobs.find(id);
    job.watchers()
        .add(watcher, JobEvent.newBuilder().setJobId(id).setSnapshot(job.toProto()).build());
  }

  void unwatch(String id, JobWatchers.Watcher watcher) {
    JobRun job = jobs.get(id);
    if (job != null) {
      job.watchers().remove(watcher);
    }
  }

  /**
   * Cancels a job: its queued tasks never start and its running ones are told to stop, with {@code
   * graceMs} between SIGTERM and SIGKILL (negative: the job's own grace). The boolean says whether
   * the job was still running (a job already stopping counts as cancelled).
   */
  Map.Entry<Job, Boolean> cancel(String id, String reason, long graceMs) {
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

  private void timeOut(String id, long timeoutMs) {
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
    dispatcher.remove(job);
    if (!job.isStopping()) {
      return; // nothing was running: the job has already ended
    }
    cancelAttempts(job, reason, graceMs);
    long patienceMs = graceMs + config.leaseMs() + STOP_ANSWER_SLACK_MS;
    String id = job.id();
    conductor.schedule(patienceMs, () -> stopWaiting(id));
  }

  private void stopWaiting(String id) {
    JobRun job = jobs.get(id);
    if (job == null || !job.isStopping()) {
      return;
    }
    for (AttachedWorker worker : workers.snapshot()) {
      for (AttachedWorker.Attempt attempt : List.copyOf(worker.inflight().values())) {
        if (attempt.job() == job && job.isRunning(attempt.task())) {
          // The attempt stays in flight: the worker's late answer still returns its slot.
          job.stopped(
              attempt.task(),
              worker.id(),
              StopOutcome.NO_ANSWER,
              "no answer to the cancel within the grace period and a lease");
        }
      }
    }
  }

  /** Forgets the jobs that finished longer ago than the retention, here and in the journal. */
  void pruneExpired() {
    jobs.pruneFinishedBefore(conductor.epochMs() - config.retention().toMillis());
  }

  /** Every job's end passes here, whatever ended it. */
  private void finished(JobRun job) {
    if (job.plan() != null) {
      // A live job: every one was admitted or restored.
      limits.release(job.spec().getOwner(), job.plan().taskCount());
    }
    dependencies.forget(job);
    // Judged before the book may forget the job that ended.
    verdicts.addAll(dependencies.ended(job.id()));
    if (unrecorded.remove(job.id())) {
      jobs.dropUnrecorded(job);
    } else {
      jobs.finished(job);
    }
    applyVerdicts();
  }

  /** Completes (on the conductor) with the job's final state once it ends. */
  CompletableFuture<Job> whenFinished(String id) {
    return jobs.whenFinished(id);
  }

  // ---- workers ----

  /** Registers a worker after its hello (checked by its adapter) and welcomes it. */
  AttachedWorker attach(Hello hello, WorkerLink link) {
    AttachedWorker previous = workers.get(hello.getWorkerId());
    if (previous != null && WorkerRegistry.isSameProcess(previous.hello(), hello)) {
      // The same worker reconnecting before we noticed its old stream break.
      detach(previous, "replaced by a new connection of the same worker");
      previous.link().close("replaced by a new connection of the same worker");
    }
    String id = workers.freeIdFor(hello);
    AttachedWorker worker =
        new AttachedWorker(id, hello, link, conductor.nanoTime(), conductor.epochMs(), dispatcher);
    worker.nameIndex(names.index(id, hello.getTaskLogDir()));
    workers.add(worker);
    link.whenWritable(() -> conductor.post(this::requestDispatch));
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
      worker.drain();
      link.send(drainMessage());
    }
    return worker;
  }

  void credit(AttachedWorker worker, int slots) {
    worker.seen(conductor.nanoTime());
    if (!workers.isAttached(worker)) {
      return;
    }
    if (slots < 0 || worker.credit() + slots > worker.maxCredit()) {
      worker.link().close("credit " + slots + " out of range");
      detach(worker, "sent credit out of range");
      return;
    }
    worker.addCredit(slots);
    requestDispatch();
  }

  void results(AttachedWorker worker, List<TaskResult> results) {
    worker.seen(conductor.nanoTime());
    if (!workers.isAttached(worker)) {
      return;
    }
    for (TaskResult result : results) {
      AttachedWorker.Attempt attempt = worker.complete(result.getAttemptId());
      if (attempt == null) {
        continue; // an attempt we already gave up on: its result must not count twice
      }
      if (!result.getCancelled() && !preempting.isEmpty()) {
        // It ended before the stop reached it. Checked only while stops are out: this is every
        // result's path, and a boxed lookup per task would cost all jobs for a rare case.
        preempting.remove(result.getAttemptId());
      }
      JobRun job = attempt.job();
      long tookNanos = conductor.nanoTime() - attempt.dispatchedNanos();
      boolean wasShort = job.hasShortTasks();
      // Short or not is the task's own run time where the worker reports it: from dispatch to
      // result also counts the wait in a full pipeline, which would stop queueing exactly when a
      // busy fleet needs it to hide its round trips.
      long ranNanos = result.getDurationUs() > 0 ? result.getDurationUs() * 1_000 : tookNanos;
      job.tookNanos(Math.min(tookNanos, ranNanos));
      if (!wasShort && job.hasShortTasks()) {
        dispatcher.wakeParked(); // its tasks may now queue beyond a worker's slots
      }
      counts.took(worker.link().transport(), tookNanos);
      boolean ended;
      if (result.getOk()) {
        ended = job.succeed(attempt.task(), result.getOutput(), worker.id());
      } else if (result.getTimedOut()) {
        // Stopped by its worker past the job's task timeout, as by a cancel: a failed attempt.
        if (result.getStop() == StopOutcome.STUCK) {
          worker.holdSlot();
        }
        if (job.isStopping()) {
          ended = stoppedAsAsked(job, attempt, worker, result);
        } else {
          ended = job.failAttempt(attempt.task(), result, worker.id());
          dispatcher.requeue(job);
        }
      } else if (result.getCancelled()) {
        if (result.getStop() == StopOutcome.STUCK) {
          // The task still holds its slot; the worker returns it with a credit when it ends.
          worker.holdSlot();
        }
        if (job.isStopping()) {
          ended = stoppedAsAsked(job, attempt, worker, result);
        } else if (preempting.remove(result.getAttemptId())) {
          ended = job.preempted(attempt.task());
          dispatcher.requeue(job);
        } else {
          // Cancelled for another reason (the worker is leaving): run it again elsewhere.
          ended = job.handBack(attempt.task());
          dispatcher.requeue(job);
        }
      } else {
        ended = job.failAttempt(attempt.task(), result, worker.id());
        dispatcher.requeue(job);
      }
      if (ended) {
        jobEnded(job);
      }
    }
    requestDispatch();
  }

  /** A running attempt of a stopping job answered: it stopped, as the cancel asked. */
  private static boolean stoppedAsAsked(
      JobRun job, AttachedWorker.Attempt attempt, AttachedWorker worker, TaskResult result) {
    return job.stopped(
        attempt.task(),
        worker.id(),
        result.getStop() == StopOutcome.STOP_OUTCOME_UNSPECIFIED
            ? StopOutcome.STOPPED
            : result.getStop(),
        result.getError());
  }

  void heartbeat(AttachedWorker worker, Heartbeat heartbeat) {
    heartbeat(worker, heartbeat, conductor.nanoTime());
  }

  /**
   * A beat from the worker that reached its link's reader at {@code arrivedNanos}: an answer to one
   * of ours times the link's round trip, and its clock goes back with our next beat.
   */
  void heartbeat(AttachedWorker worker, Heartbeat heartbeat, long arrivedNanos) {
    worker.seen(conductor.nanoTime());
    worker.stuck(Math.max(0, heartbeat.getStuck()));
    long roundTripNanos = arrivedNanos - heartbeat.getEchoNanos();
    // An echo from the future is no clock of ours: not counted.
    if (heartbeat.getEchoNanos() != 0 && roundTripNanos >= 0) {
      roundTrips.observe(worker.link().transport(), roundTripNanos);
    }
    if (heartbeat.getSentNanos() != 0) {
      worker.toEcho(heartbeat.getSentNanos(), arrivedNanos);
    }
  }

  /** The worker hands back attempts it will not finish (it is draining). */
  void handBack(AttachedWorker worker, List<Long> attemptIds) {
    for (long attemptId : attemptIds) {
      AttachedWorker.Attempt attempt = worker.complete(attemptId);
      if (attempt != null) {
        if (attempt.job().handBack(attempt.task())) {
          jobEnded(attempt.job());
        }
        dispatcher.requeue(attempt.job());
      }
    }
    worker.drain();
    requestDispatch();
  }

  /** The worker's link is gone: its attempts go back to the queue. */
  void detached(AttachedWorker worker, String reason) {
    if (workers.isAttached(worker)) {
      detach(worker, reason);
      requestDispatch();
    }
  }

  private void detach(AttachedWorker worker, String reason) {
    workers.remove(worker);
    worker.detached();
    dispatcher.forget(worker);
    logRelays.workerGone(worker, names);
    worker.link().release();
    for (Map.Entry<Long, AttachedWorker.Attempt> entry : worker.releaseAll().entrySet()) {
      AttachedWorker.Attempt attempt = entry.getValue();
      preempting.remove(entry.getKey());
      if (attempt.job().lose(attempt.task(), worker.id(), reason)) {
        jobEnded(attempt.job());
      } else {
        dispatcher.requeue(attempt.job());
      }
    }
    requestDispatch();
  }

  /** Moves a worker's traffic to {@code next} if it is still on {@code expected}. */
  boolean switchLink(AttachedWorker worker, WorkerLink expected, WorkerLink next) {
    if (!workers.isAttached(worker) || worker.link() != expected) {
      return false;
    }
    worker.switchLink(next);
    next.whenWritable(() -> conductor.post(this::requestDispatch));
    return true;
  }

  /** True when some attached worker's link is of {@code transport}. */
  boolean anyWorkerOn(dev.weft.wire.Transport transport) {
    return workers.anyOn(transport);
  }

  /** How many workers the next dispatch visits (those that may have room for more). */
  int workersWithRoom() {
    return dispatcher.workersWithRoom();
  }

  /** How many workers with credit wait for the jobs to change before they are visited again. */
  int workersParked() {
    return dispatcher.workersParked();
  }

  int workerCount() {
    return workers.size();
  }

  /**
   * The shared-memory link under a worker failed: back to {@code control}, withdrawing every
   * outstanding attempt (the worker cancels them; late results no longer count) so no task is lost
   * or counted twice. The worker then announces its credit afresh.
   */
  void fallBack(AttachedWorker worker, WorkerLink failed, WorkerLink control, String reason) {
    if (!workers.isAttached(worker) || worker.link() != failed) {
      return;
    }
    worker.switchLink(control);
    Map<Long, AttachedWorker.Attempt> withdrawn = worker.withdrawAll();
    preempting.removeAll(withdrawn.keySet());
    for (AttachedWorker.Attempt attempt : withdrawn.values()) {
      if (attempt.job().handBack(attempt.task())) {
        jobEnded(attempt.job());
      }
      dispatcher.requeue(attempt.job());
    }
    control.send(
        CoordinatorMessage.newBuilder()
            .setShmClosed(ShmClosed.newBuilder().setReason(reason))
            .build());
    requestDispatch();
  }

  /**
   * Takes worker {@code id} out of service: no new tasks, the ones it has run to their end. Throws
   * NOT_FOUND when no worker of that id is attached.
   */
  WorkerInfo drainWorker(String id, String reason) {
    AttachedWorker worker = workers.find(id);
    String why = reason.isBlank() ? "drained by an operator" : reason;
    workers.drain(worker, why);
    LOG.log(System.Logger.Level.INFO, "worker {0} drained: {1}", id, why);
    return worker.toProto();
  }

  /** Puts a drained worker back in service; resuming one that is not drained changes nothing. */
  WorkerInfo resumeWorker(String id) {
    AttachedWorker worker = workers.find(id);
    if (workers.resume(worker)) {
      LOG.log(System.Logger.Level.INFO, "worker {0} resumed", id);
      requestDispatch();
    }
    return worker.toProto();
  }

  List<WorkerInfo> listWorkers() {
    return workers.list();
  }

  /** What {@code /metrics} shows, read on the conductor. */
  record Gauges(
      TaskCounts counts,
      TransportHistogram roundTrips,
      Map<JobState, Integer> jobsByState,
      long queuedTasks,
      long runningTasks,
      List<WorkerInfo> workers) {}

  Gauges gauges() {
    Map<JobState, Integer> byState = new java.util.EnumMap<>(JobState.class);
    long queued = 0;
    long running = 0;
    for (JobRun job : jobs.all()) {
      byState.merge(job.state(), 1, Integer::sum);
      if (!job.isFinished()) {
        queued += job.pendingTasks();
        running += job.runningTasks();
      }
    }
    return new Gauges(counts.copy(), roundTrips.copy(), byState, queued, running, workers.list());
  }

  /** Sends heartbeats and ends the links of workers silent past their lease or revoked. */
  void tick() {
    // Whatever a parked worker waits for that no event announced, it waits no longer than this.
    dispatcher.wakeParked();
    requestDispatch();
    leases.check(
        workers,
        new Leases.Verdicts() {
          @Override
          public void revoked(AttachedWorker worker) {
            detach(worker, "its credentials were revoked");
            worker
                .link()
                .refuse(
                    Status.UNAUTHENTICATED.withDescription(
                        "the join token this worker attached with was revoked (weft token rotate"
                            + " --detach-workers); start it with the new token from `weft token"
                            + " show` on the coordinator's host"));
          }

          @Override
          public void silent(AttachedWorker worker, String reason) {
            detach(worker, reason);
            worker.link().close(reason);
            silentWorkers.reclaim(worker.id(), worker.hello());
          }
        });
    requestDispatch();
  }

  /** True while we take work and the process behind {@code hello} has not attached again. */
  boolean stillLost(Hello hello) {
    return accepting && !workers.hasProcess(hello);
  }

  /** The coordinator stops: unfinished jobs let go of the files their plans hold open. */
  void releasePlans() {
    for (JobRun job : jobs.all()) {
      if (!job.isFinished()) {
        job.releasePlan();
      }
    }
  }

  /** Stops taking jobs and tells every worker to drain. */
  void stopAccepting() {
    accepting = false;
    for (AttachedWorker worker : workers.all()) {
      worker.drain();
      worker.link().send(drainMessage());
    }
    for (JobRun job : jobs.all()) {
      job.watchers().abort(Status.UNAVAILABLE.withDescription("the coordinator is shutting down"));
    }
  }

  /**
   * Closes every link as the coordinator stops. Their attempts go back to the queue at no cost: the
   * workers did nothing wrong, and the jobs resume after a restart from the journal.
   */
  void closeAllLinks(String reason) {
    for (AttachedWorker worker : workers.snapshot()) {
      Map<Long, AttachedWorker.Attempt> withdrawn = worker.withdrawAll();
      preempting.removeAll(withdrawn.keySet());
      for (AttachedWorker.Attempt attempt : withdrawn.values()) {
        if (attempt.job().handBack(attempt.task())) {
          jobEnded(attempt.job());
        }
      }
      detach(worker, reason);
      worker.link().close(reason);
    }
  }

  private static CoordinatorMessage drainMessage() {
    return CoordinatorMessage.newBuilder()
        .setDrain(Drain.newBuilder().setReason("the coordinator is shutting down"))
        .build();
  }

  // ---- dispatch ----

  /**
   * When jobs of a class have waited longer than --preempt-after with tasks to run, stops attempts
   * of lower classes to make room: lowest class first and, within it, the most recently started
   * (the least work lost), only on workers that could run a waiting job, and no more than the
   * waiting jobs' pending tasks less the stops already under way. The stopped tasks run again later
   * at no cost to their attempts.
   */
  private void preemptForStarving() {
    FairShare order = dispatcher.order();
    Integer lowest = order.lowestRunningClass();
    if (lowest == null) {
      return;
    }
    long since = conductor.nanoTime() - config.preemptAfterMs() * 1_000_000L;
    List<FairShare.Entry> starving = order.starving(since, 64);
    if (starving.isEmpty() || starving.get(0).priority() <= lowest) {
      return;
    }
    int priority = starving.get(0).priority();
    long wanted = -preempting.size();
    for (FairShare.Entry entry : starving) {
      wanted += entry.job.pendingTasks();
    }
    if (wanted <= 0) {
      return;
    }
    record Victim(AttachedWorker worker, long attemptId, AttachedWorker.Attempt attempt) {}
    List<Victim> victims = new java.util.ArrayList<>();
    for (AttachedWorker worker : workers.all()) {
      if (!couldServe(worker, starving)) {
        continue;
      }
      for (Map.Entry<Long, AttachedWorker.Attempt> entry : worker.inflight().entrySet()) {
        JobRun victim = entry.getValue().job();
        if (victim.priority() < priority
            && !victim.isStopping()
            && victim.isRunning(entry.getValue().task())
            && !preempting.contains(entry.getKey())) {
          victims.add(new Victim(worker, entry.getKey(), entry.getValue()));
        }
      }
    }
    victims.sort(
        java.util.Comparator.<Victim>comparingInt(v -> v.attempt().job().priority())
            .thenComparing(
                java.util.Comparator.<Victim>comparingLong(v -> v.attempt().dispatchedNanos())
                    .reversed()));
    // One cancel per worker and grace: jobs may give their tasks different graces.
    record Stop(AttachedWorker worker, long graceMs) {}
    Map<Stop, CancelTasks.Builder> stops = new LinkedHashMap<>();
    String reason = "preempted for job " + starving.get(0).job.id() + " of priority " + priority;
    for (Victim victim : victims.subList(0, (int) Math.min(wanted, victims.size()))) {
      preempting.add(victim.attemptId());
      long graceMs = victim.attempt().job().graceMs();
      stops
          .computeIfAbsent(
              new Stop(victim.worker(), graceMs),
              stop -> CancelTasks.newBuilder().setGraceMs(graceMs).setReason(reason))
          .addAttemptIds(victim.attemptId());
    }
    stops.forEach(
        (stop, cancel) ->
            stop.worker().link().send(CoordinatorMessage.newBuilder().setCancel(cancel).build()));
    if (!stops.isEmpty()) {
      LOG.log(
          System.Logger.Level.INFO,
          "{0}: stopping {1} attempts of lower classes",
          reason,
          Math.min(wanted, victims.size()));
    }
  }

  private static boolean couldServe(AttachedWorker worker, List<FairShare.Entry> starving) {
    for (FairShare.Entry entry : starving) {
      JobRun job = entry.job;
      if (worker.runs(job.kindName())
          && job.mayRunOn(worker.id())
          && worker.capacity().couldFit(job.needs())) {
        return true;
      }
    }
    return false;
  }

  private void jobEnded(JobRun job) {
    dispatcher.remove(job);
    if (job.state() != JobState.SUCCEEDED) {
      cancelAttempts(job, "job " + job.state().name().toLowerCase(Locale.ROOT), job.graceMs());
    }
  }

  /** Asks workers to stop the job's outstanding attempts; their slots return with the answers. */
  private void cancelAttempts(JobRun job, String reason, long graceMs) {
    for (AttachedWorker worker : workers.all()) {
      CancelTasks.Builder cancel = CancelTasks.newBuilder().setGraceMs(graceMs).setReason(reason);
      for (Map.Entry<Long, AttachedWorker.Attempt> entry : worker.inflight().entrySet()) {
        if (entry.getValue().job() == job) {
          cancel.addAttemptIds(entry.getKey());
        }
      }
      if (cancel.getAttemptIdsCount() > 0) {
        worker.link().send(CoordinatorMessage.newBuilder().setCancel(cancel).build());
      }
    }
  }
}
