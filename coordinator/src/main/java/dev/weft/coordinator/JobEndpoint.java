package dev.weft.coordinator;

import dev.weft.coordinator.security.Caller;
import dev.weft.kinds.InvalidJobException;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.CreateDashboardLoginRequest;
import dev.weft.v1.DashboardLogin;
import dev.weft.v1.DrainWorkerRequest;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.JobView;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListJobsResponse;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.ListWorkersResponse;
import dev.weft.v1.LogRequest;
import dev.weft.v1.ResumeWorkerRequest;
import dev.weft.v1.RunJobRequest;
import dev.weft.v1.RunJobsRequest;
import dev.weft.v1.RunJobsResponse;
import dev.weft.v1.SetJobPriorityRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.TaskLogChunk;
import dev.weft.v1.TaskLogsRequest;
import dev.weft.v1.WatchJobRequest;
import dev.weft.v1.WorkerInfo;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * {@code JobService}: the clients' side of the coordinator. Requests are checked (and jobs planned)
 * on gRPC's threads; what touches the coordinator's state is asked of the conductor, and answered
 * from there: a unary answer is one non-blocking write, streams go through bounded outboxes.
 */
final class JobEndpoint extends JobServiceGrpc.JobServiceImplBase {
  static final int DEFAULT_LIST_LIMIT = 100;
  static final int MAX_LIST_LIMIT = 10_000;
  static final int MAX_FULL_LIST_LIMIT = 1_000;
  static final int MAX_ID_CHARS = 64;
  static final int MAX_REASON_CHARS = 1_000;
  // RunJobs requests read ahead of the conductor: enough to keep it busy, bounded per stream.
  private static final int RUN_JOBS_WINDOW = 1024;
  private static final java.util.regex.Pattern REQUEST_ID =
      java.util.regex.Pattern.compile("[A-Za-z0-9._:-]{1,128}");

  private static final System.Logger LOG = System.getLogger(JobEndpoint.class.getName());

  private final Conductor conductor;
  private final Scheduler scheduler;
  private final JobIntake intake;
  private final java.util.concurrent.Executor io;
  private final int maxSubmitPriority;
  private final DashboardLogins logins;

  /**
   * @param io where jobs whose planning reads files (hash) are checked and planned: calls arrive on
   *     gRPC's transport threads, which must not wait on a disk
   */
  JobEndpoint(
      Conductor conductor,
      Scheduler scheduler,
      JobIntake intake,
      java.util.concurrent.Executor io,
      int maxSubmitPriority,
      DashboardLogins logins) {
    this.maxSubmitPriority = maxSubmitPriority;
    this.logins = logins;
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.intake = intake;
    this.io = io;
  }

  /**
   * {@link #plan}, on the I/O executor for a job whose planning reads files. The spec records its
   * owner, {@code caller}, and the submission's request id ("" for none); a kind that runs
   * arbitrary code needs the caller's exec grant.
   */
  private CompletableFuture<JobIntake.Planned> planned(
      JobSpec submitted, boolean present, Caller caller, String requestId) {
    if (!requestId.isEmpty() && !REQUEST_ID.matcher(requestId).matches()) {
      return CompletableFuture.failedFuture(
          invalid(
              "request_id: 1..128 characters of A-Z a-z 0-9 . _ : - (a random UUID, say), got '"
                  + (requestId.length() > 140 ? requestId.substring(0, 140) + "..." : requestId)
                  + "'"));
    }
    if (present && (submitted.hasExec() || submitted.hasPlugin()) && !caller.exec()) {
      return CompletableFuture.failedFuture(
          Status.PERMISSION_DENIED
              .withDescription(
                  caller.described()
                      + " may not submit "
                      + (submitted.hasExec() ? "exec" : "plugin")
                      + " jobs, which run arbitrary commands on the workers: "
                      + (caller.local()
                          ? "the coordinator's user grants that with --allow-uid "
                              + caller.name().substring("uid:".length())
                              + ":submit+exec"
                          : "an admin grants that with `weft token create NAME --role submit"
                              + " --allow-exec`"))
              .asRuntimeException());
    }
    if (present && submitted.getPriority() > maxSubmitPriority && !caller.admin()) {
      // A higher class takes slots first and may preempt others: not for every submitter.
      return CompletableFuture.failedFuture(
          Status.PERMISSION_DENIED
              .withDescription(
                  caller.described()
                      + " may submit at priority "
                      + maxSubmitPriority
                      + " at most (--max-submit-priority on the coordinator), asked "
                      + submitted.getPriority()
                      + "; an admin may submit higher, or raise the job with `weft jobs"
                      + " set-priority`")
              .asRuntimeException());
    }
    JobSpec spec =
        present
            ? submitted.toBuilder().setOwner(caller.name()).setRequestId(requestId).build()
            : submitted;
    if (present && spec.hasHash()) {
      return CompletableFuture.supplyAsync(() -> plan(spec, true), io);
    }
    try {
      return CompletableFuture.completedFuture(plan(spec, present));
    } catch (StatusRuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private static StatusRuntimeException asStatus(Throwable failure) {
    Throwable cause = rootCause(failure);
    if (cause instanceof StatusRuntimeException e) {
      return e;
    }
    LOG.log(System.Logger.Level.ERROR, "checking a job failed", cause);
    return Status.INTERNAL
        .withDescription("the coordinator failed to check the job: " + cause)
        .asRuntimeException();
  }

  /** Checks a submitted spec and plans it; INVALID_ARGUMENT naming what is wrong. */
  private JobIntake.Planned plan(JobSpec spec, boolean present) {
    if (!present) {
      throw invalid("spec: required (a JobSpec with the parameters of one kind)");
    }
    return intake.plan(spec);
  }

  @Override
  public void submitJob(SubmitJobRequest request, StreamObserver<Job> responses) {
    ServerCallStreamObserver<Job> out = (ServerCallStreamObserver<Job>) responses;
    out.setOnCancelHandler(() -> {});
    Context call = Context.current();
    planned(request.getSpec(), request.hasSpec(), Caller.current(), request.getRequestId())
        .whenComplete(
            (planned, failure) -> {
              if (failure != null) {
                out.onError(asStatus(failure));
              } else if (call.isCancelled() || out.isCancelled()) {
                planned.plan().close();
                out.onError(callerGaveUp());
              } else {
                submit(planned, out);
              }
            });
  }

  private void submit(JobIntake.Planned planned, ServerCallStreamObserver<Job> out) {
    conductor.post(
        () -> {
          Scheduler.Submission submission;
          try {
            submission = scheduler.submit(planned);
          } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
          }
          String id = submission.job().id();
          Job accepted = submission.job().toProto();
          if (submission.repeat()) {
            answerRepeat(submission, accepted, out);
            return;
          }
          // Its tasks may already run; the answer waits until the job is durable.
          submission
              .durable()
              .whenComplete(
                  (ok, failure) -> {
                    if (failure != null) {
                      String why = String.valueOf(rootCause(failure).getMessage());
                      conductor.post(() -> scheduler.notRecorded(id, why));
                      out.onError(
                          Status.UNAVAILABLE
                              .withDescription("the job could not be recorded: " + why)
                              .asRuntimeException());
                    } else if (out.isCancelled()) {
                      // The caller was told its submission failed: the job must not run on.
                      conductor.post(() -> scheduler.submitterGaveUp(id));
                    } else {
                      out.onNext(accepted);
                      out.onCompleted();
                    }
                  });
        });
  }

  /**
   * Answers a submission sent again with the job its first sending made, once that is durable.
   * Should it never become so, the first sending's answer ends the job; this one only fails.
   */
  private static void answerRepeat(
      Scheduler.Submission submission, Job job, ServerCallStreamObserver<Job> out) {
    submission
        .durable()
        .whenComplete(
            (ok, failure) -> {
              if (failure != null) {
                out.onError(
                    Status.UNAVAILABLE
                        .withDescription(
                            "the job could not be recorded: " + rootCause(failure).getMessage())
                        .asRuntimeException());
              } else if (!out.isCancelled()) {
                out.onNext(job);
                out.onCompleted();
              }
            });
  }

  /** A caller past its deadline has been told the submission failed: it must not run. */
  private static StatusRuntimeException callerGaveUp() {
    return Status.CANCELLED
        .withDescription(
            "the caller gave up (deadline or cancel) before the job was accepted;"
                + " it was not submitted")
        .asRuntimeException();
  }

  @Override
  public void runJob(RunJobRequest request, StreamObserver<JobEvent> responses) {
    ServerCallStreamObserver<JobEvent> out = (ServerCallStreamObserver<JobEvent>) responses;
    // The caller owns the job it runs: it sees all of it.
    JobWatchers.Watcher watcher =
        newWatcher(out, request.getIncludeTasks(), java.util.function.UnaryOperator.identity());
    String[] jobId = new String[1];
    out.setOnCancelHandler(
        () ->
            conductor.post(
                () -> {
                  if (jobId[0] != null) {
                    scheduler.unwatch(jobId[0], watcher);
                  }
                  watcher.outbox.close();
                }));
    Context call = Context.current();
    planned(request.getSpec(), request.hasSpec(), Caller.current(), request.getRequestId())
        .whenComplete(
            (planned, failure) -> {
              if (failure != null) {
                conductor.post(() -> watcher.outbox.fail(asStatus(failure).getStatus()));
              } else if (call.isCancelled() || out.isCancelled()) {
                planned.plan().close();
                conductor.post(watcher.outbox::close);
              } else {
                conductor.post(() -> runJob(planned, watcher, jobId));
              }
            });
  }

  /** On the conductor: registers a RunJob's job, announced to its watcher once durable. */
  private void runJob(JobIntake.Planned planned, JobWatchers.Watcher watcher, String[] jobId) {
    Scheduler.Submission submission;
    try {
      submission = scheduler.submit(planned);
    } catch (StatusRuntimeException e) {
      watcher.outbox.fail(e.getStatus());
      return;
    }
    JobRun job = submission.job();
    jobId[0] = job.id();
    if (submission.repeat()) {
      // Sent again: this caller watches the job the first sending made, once it is durable.
      submission
          .durable()
          .whenComplete(
              (ok, failure) ->
                  conductor.post(
                      () -> {
                        if (failure != null) {
                          watcher.outbox.fail(
                              Status.UNAVAILABLE.withDescription(
                                  "the job could not be recorded: "
                                      + rootCause(failure).getMessage()));
                        } else {
                          try {
                            scheduler.watch(job.id(), watcher);
                          } catch (StatusRuntimeException e) {
                            watcher.outbox.fail(e.getStatus());
                          }
                        }
                      }));
      return;
    }
    job.watchers().addHeld(watcher);
    submission
        .durable()
        .whenComplete((ok, failure) -> conductor.post(() -> announce(job, watcher, failure)));
  }

  private void announce(JobRun job, JobWatchers.Watcher watcher, Throwable failure) {
    if (failure == null) {
      job.watchers()
          .release(
              watcher, JobEvent.newBuilder().setJobId(job.id()).setSnapshot(job.toProto()).build());
      return;
    }
    String why = String.valueOf(rootCause(failure).getMessage());
    job.watchers().remove(watcher);
    watcher.outbox.fail(
        Status.UNAVAILABLE.withDescription("the job could not be recorded: " + why));
    scheduler.notRecorded(job.id(), why);
  }

  @Override
  public StreamObserver<RunJobsRequest> runJobs(StreamObserver<RunJobsResponse> responses) {
    ServerCallStreamObserver<RunJobsResponse> out =
        (ServerCallStreamObserver<RunJobsResponse>) responses;
    JobStream stream = new JobStream(conductor, scheduler, out);
    Caller caller = Caller.current();
    out.disableAutoRequest();
    out.setOnReadyHandler(() -> conductor.post(stream::flush));
    out.setOnCancelHandler(() -> conductor.post(stream::cancelled));
    out.request(RUN_JOBS_WINDOW);
    return new StreamObserver<>() {
      @Override
      public void onNext(RunJobsRequest request) {
        planned(request.getSpec(), request.hasSpec(), caller, "")
            .whenComplete(
                (planned, failure) -> {
                  if (failure != null) {
                    Status status = asStatus(failure).getStatus();
                    conductor.post(() -> stream.refused(request.getRef(), status));
                  } else {
                    conductor.post(() -> stream.submit(request.getRef(), planned));
                  }
                });
      }

      @Override
      public void onError(Throwable t) {
        conductor.post(stream::cancelled);
      }

      @Override
      public void onCompleted() {
        conductor.post(stream::clientDone);
      }
    };
  }

  @Override
  public void createDashboardLogin(
      CreateDashboardLoginRequest request, StreamObserver<DashboardLogin> out) {
    try {
      out.onNext(logins.create(Caller.current()));
      out.onCompleted();
    } catch (StatusRuntimeException e) {
      out.onError(e);
    }
  }

  @Override
  public void getJob(GetJobRequest request, StreamObserver<Job> out) {
    Caller caller = Caller.current();
    answer(
        out, () -> checkId(request.getId()), id -> JobViews.forCaller(scheduler.get(id), caller));
  }

  @Override
  public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> out) {
    Caller caller = Caller.current();
    boolean full = request.getView() == JobView.JOB_VIEW_FULL;
    answer(
        out,
        () -> {
          if (request.getView() == JobView.UNRECOGNIZED) {
            throw invalid("view: must be JOB_VIEW_SUMMARY or JOB_VIEW_FULL");
          }
          int limit = request.getLimit();
          int max = full ? MAX_FULL_LIST_LIMIT : MAX_LIST_LIMIT;
          if (limit < 0 || limit > max) {
            throw invalid(
                "limit: must be 0.."
                    + max
                    + (full ? " for full jobs (JOB_VIEW_FULL)" : " for summaries")
                    + " (0 means "
                    + DEFAULT_LIST_LIMIT
                    + "), got "
                    + limit);
          }
          Set<JobState> states = EnumSet.noneOf(JobState.class);
          for (JobState state : request.getStatesList()) {
            if (state == JobState.JOB_STATE_UNSPECIFIED || state == JobState.UNRECOGNIZED) {
              throw invalid(
                  "states: must be WAITING, QUEUED, RUNNING, CANCELLING, SUCCEEDED, FAILED or"
                      + " CANCELLED");
            }
            states.add(state);
          }
          return Map.entry(states, limit == 0 ? DEFAULT_LIST_LIMIT : limit);
        },
        query -> {
          ListJobsResponse.Builder listed =
              ListJobsResponse.newBuilder()
                  .setView(full ? JobView.JOB_VIEW_FULL : JobView.JOB_VIEW_SUMMARY);
          for (Job job : scheduler.list(query.getKey(), query.getValue())) {
            listed.addJobs(full ? JobViews.forCaller(job, caller) : JobSummaries.of(job));
          }
          return listed.build();
        });
  }

  @Override
  public void watchJob(WatchJobRequest request, StreamObserver<JobEvent> responses) {
    ServerCallStreamObserver<JobEvent> out = (ServerCallStreamObserver<JobEvent>) responses;
    String id;
    try {
      id = checkId(request.getId());
    } catch (StatusRuntimeException e) {
      out.onError(e);
      return;
    }
    JobWatchers.Watcher watcher =
        newWatcher(out, request.getIncludeTasks(), JobViews.eventsFor(Caller.current()));
    out.setOnCancelHandler(
        () ->
            conductor.post(
                () -> {
                  scheduler.unwatch(id, watcher);
                  watcher.outbox.close();
                }));
    conductor.post(
        () -> {
          try {
            scheduler.watch(id, watcher);
          } catch (StatusRuntimeException e) {
            watcher.outbox.fail(e.getStatus());
          }
        });
  }

  private JobWatchers.Watcher newWatcher(
      ServerCallStreamObserver<JobEvent> out,
      boolean tasks,
      java.util.function.UnaryOperator<JobEvent> view) {
    JobWatchers.Watcher watcher =
        new JobWatchers.Watcher(
            new StreamOutbox<>(out, JobWatchers.OUTBOX_LIMIT, scheduler.outboxes(), view), tasks);
    out.setOnReadyHandler(() -> conductor.post(watcher.outbox::flush));
    return watcher;
  }

  @Override
  public void taskLogs(TaskLogsRequest request, StreamObserver<TaskLogChunk> responses) {
    ServerCallStreamObserver<TaskLogChunk> out = (ServerCallStreamObserver<TaskLogChunk>) responses;
    String id;
    try {
      id = checkId(request.getJobId());
      if (request.getTask() < 0) {
        throw invalid("task must not be negative, got " + request.getTask());
      }
      if (request.getOffset() < 0) {
        throw invalid("offset must not be negative, got " + request.getOffset());
      }
    } catch (StatusRuntimeException e) {
      out.onError(e);
      return;
    }
    Caller caller = Caller.current();
    LogRelays relays = scheduler.logRelays();
    long requestId = relays.newRequestId();
    StreamOutbox<TaskLogChunk> outbox =
        new StreamOutbox<>(
            out,
            LogRelays.OUTBOX_LIMIT,
            scheduler.outboxes(),
            java.util.function.UnaryOperator.identity(),
            sent -> relays.delivered(requestId, sent));
    out.setOnReadyHandler(() -> conductor.post(outbox::flush));
    out.setOnCancelHandler(
        () ->
            conductor.post(
                () -> {
                  relays.cancel(requestId);
                  outbox.close();
                }));
    conductor.post(
        () -> {
          try {
            relayLog(id, request, caller, requestId, outbox, scheduler.logRelays());
          } catch (StatusRuntimeException e) {
            outbox.fail(e.getStatus());
          }
        });
  }

  /** On the conductor: finds who ran the task's latest attempt and asks it for the log. */
  private void relayLog(
      String id,
      TaskLogsRequest request,
      Caller caller,
      long requestId,
      StreamOutbox<TaskLogChunk> outbox,
      LogRelays relays) {
    JobRun job = scheduler.find(id);
    if (job == null) {
      throw Status.NOT_FOUND.withDescription("no job " + id).asRuntimeException();
    }
    if (!job.kindName().equals("exec")) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "job " + id + " is a " + job.kindName() + " job; only exec tasks have logs")
          .asRuntimeException();
    }
    // An exec task's output is as private as its environment: the owner's and admins' only.
    String owner = job.spec().getOwner();
    if (!caller.owns(owner)) {
      throw Status.PERMISSION_DENIED
          .withDescription(
              "the logs of exec job " + id + " are for its owner (" + owner + ") and admins")
          .asRuntimeException();
    }
    int task = request.getTask();
    if (task >= job.taskCount()) {
      throw Status.NOT_FOUND
          .withDescription(
              "job "
                  + id
                  + " has "
                  + job.taskCount()
                  + " tasks (0.."
                  + (job.taskCount() - 1)
                  + "); there is no task "
                  + task)
          .asRuntimeException();
    }
    int ranOn = job.ranOn(task);
    if (ranOn == WorkerNames.NONE) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              job.restored()
                  ? "this coordinator restarted after job "
                      + id
                      + " ended and does not know which worker ran task "
                      + task
                  : "task " + task + " of job " + id + " has not run yet: it has no log")
          .asRuntimeException();
    }
    WorkerNames names = scheduler.names();
    String workerId = names.id(ranOn);
    String logDir = names.logDir(ranOn);
    AttachedWorker worker = scheduler.attached(workerId);
    if (worker == null) {
      // NOT_FOUND, not UNAVAILABLE: the coordinator is there, the log is not, and asking again
      // does not bring it back (clients take UNAVAILABLE for an unreachable coordinator).
      throw Status.NOT_FOUND
          .withDescription(
              "worker "
                  + workerId
                  + ", which ran task "
                  + task
                  + ", is no longer attached: its"
                  + " logs are no longer kept here"
                  + (logDir.isEmpty() ? "" : " (they were in " + logDir + " on its host)"))
          .asRuntimeException();
    }
    relays.start(
        requestId,
        outbox,
        worker,
        LogRequest.newBuilder()
            .setJobId(id)
            .setTask(task)
            .setAttempt(job.attemptOf(task))
            .setStream(request.getStream())
            .setFollow(request.getFollow())
            .setOffset(request.getOffset())
            .build(),
        logDir);
  }

  @Override
  public void cancelJob(CancelJobRequest request, StreamObserver<CancelJobResponse> out) {
    Caller caller = Caller.current();
    answer(
        out,
        () -> {
          long graceMs;
          try {
            graceMs = JobSpecRules.cancelGraceMs(request);
          } catch (InvalidJobException e) {
            throw invalid(e.getMessage());
          }
          checkId(request.getId());
          return graceMs;
        },
        graceMs -> {
          String owner = scheduler.find(request.getId()).spec().getOwner();
          if (!caller.owns(owner)) {
            throw Status.PERMISSION_DENIED
                .withDescription(
                    "job "
                        + request.getId()
                        + " belongs to '"
                        + (owner.isEmpty()
                            ? "nobody (submitted before owners were recorded)"
                            : owner)
                        + "'; token '"
                        + caller.name()
                        + "' may cancel only its own jobs (an admin token may cancel any)")
                .asRuntimeException();
          }
          Map.Entry<Job, Boolean> outcome =
              scheduler.cancel(request.getId(), request.getReason(), graceMs);
          return CancelJobResponse.newBuilder()
              .setJob(JobViews.forCaller(outcome.getKey(), caller))
              .setCancelled(outcome.getValue())
              .build();
        });
  }

  @Override
  public void listWorkers(ListWorkersRequest request, StreamObserver<ListWorkersResponse> out) {
    answer(
        out,
        () -> request,
        ignored -> ListWorkersResponse.newBuilder().addAllWorkers(scheduler.listWorkers()).build());
  }

  @Override
  public void drainWorker(DrainWorkerRequest request, StreamObserver<WorkerInfo> out) {
    answer(
        out,
        () -> {
          if (request.getReason().length() > MAX_REASON_CHARS) {
            throw invalid(
                "reason: at most "
                    + MAX_REASON_CHARS
                    + " characters, got "
                    + request.getReason().length());
          }
          return checkWorkerId(request.getId());
        },
        id -> scheduler.drainWorker(id, request.getReason().strip()));
  }

  @Override
  public void resumeWorker(ResumeWorkerRequest request, StreamObserver<WorkerInfo> out) {
    answer(out, () -> checkWorkerId(request.getId()), scheduler::resumeWorker);
  }

  @Override
  public void setJobPriority(SetJobPriorityRequest request, StreamObserver<Job> out) {
    answer(
        out,
        () -> {
          JobSpecRules.checkPriority(request.getPriority());
          return checkId(request.getId());
        },
        id -> scheduler.setPriority(id, request.getPriority()));
  }

  private static String checkWorkerId(String id) {
    if (id.isEmpty()) {
      throw invalid("id: required (a worker id as `weft workers` lists them)");
    }
    if (id.length() > WorkerAdapter.MAX_WORKER_ID_CHARS) {
      throw invalid(
          "id: at most " + WorkerAdapter.MAX_WORKER_ID_CHARS + " characters, got " + id.length());
    }
    return id;
  }

  private static String checkId(String id) {
    if (id.isEmpty()) {
      throw invalid("id: required (a job id as `weft jobs` lists them)");
    }
    if (id.length() > MAX_ID_CHARS) {
      throw invalid("id: at most " + MAX_ID_CHARS + " characters, got " + id.length());
    }
    return id;
  }

  private static StatusRuntimeException invalid(String message) {
    return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
  }

  /** What failed under the wrappers a CompletableFuture puts around it. */
  static Throwable rootCause(Throwable failure) {
    Throwable cause = failure;
    while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  /** What a unary call does on the conductor with its checked request. */
  private interface Query<Q, T> {
    T run(Q checked);
  }

  /**
   * Runs a unary call: {@code check} on this thread, {@code query} on the conductor, whose value
   * (or status) is the answer, written from the conductor.
   */
  private <Q, T> void answer(StreamObserver<T> out, Supplier<Q> check, Query<Q, T> query) {
    // An answer written after the client went away is then dropped instead of thrown.
    ((ServerCallStreamObserver<T>) out).setOnCancelHandler(() -> {});
    Q checked;
    try {
      checked = check.get();
    } catch (StatusRuntimeException e) {
      out.onError(e);
      return;
    }
    CompletableFuture<T> answer = conductor.ask(() -> query.run(checked));
    answer.whenComplete(
        (value, failure) -> {
          if (failure == null) {
            out.onNext(value);
            out.onCompleted();
          } else if (failure instanceof StatusRuntimeException e) {
            out.onError(e);
          } else {
            LOG.log(System.Logger.Level.ERROR, "a JobService call failed", failure);
            out.onError(
                Status.INTERNAL
                    .withDescription("the coordinator failed to answer: " + failure)
                    .asRuntimeException());
          }
        });
  }
}
