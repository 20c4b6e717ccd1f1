package dev.weft.coordinator;

import dev.weft.kinds.InvalidJobException;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.DrainWorkerRequest;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobState;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListJobsResponse;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.ListWorkersResponse;
import dev.weft.v1.ResumeWorkerRequest;
import dev.weft.v1.SubmitJobRequest;
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

/** {@code JobService}: the clients' side of the coordinator. */
final class JobEndpoint extends JobServiceGrpc.JobServiceImplBase {
  static final int DEFAULT_LIST_LIMIT = 100;
  static final int MAX_LIST_LIMIT = 10_000;
  static final int MAX_ID_CHARS = 64;
  static final int MAX_REASON_CHARS = 1_000;

  private static final System.Logger LOG = System.getLogger(JobEndpoint.class.getName());

  private final Scheduler scheduler;
  private final ReadableRoots readableRoots;

  JobEndpoint(Scheduler scheduler, ReadableRoots readableRoots) {
    this.scheduler = scheduler;
    this.readableRoots = readableRoots;
  }

  @Override
  public void submitJob(SubmitJobRequest request, StreamObserver<Job> out) {
    answer(
        out,
        () -> {
          if (!request.hasSpec()) {
            throw invalid("spec: required (a JobSpec with the parameters of one kind)");
          }
          try {
            readableRoots.check(request.getSpec());
          } catch (InvalidJobException e) {
            throw invalid(e.getMessage());
          }
          // A caller past its deadline has been told the submission failed: it must not run.
          if (Context.current().isCancelled()) {
            throw Status.CANCELLED
                .withDescription(
                    "the caller gave up (deadline or cancel) before the job was accepted;"
                        + " it was not submitted")
                .asRuntimeException();
          }
          return scheduler.submit(request.getSpec());
        });
  }

  @Override
  public void getJob(GetJobRequest request, StreamObserver<Job> out) {
    answer(out, () -> scheduler.get(checkId(request.getId())));
  }

  @Override
  public void listJobs(ListJobsRequest request, StreamObserver<ListJobsResponse> out) {
    answer(
        out,
        () -> {
          int limit = request.getLimit();
          if (limit < 0 || limit > MAX_LIST_LIMIT) {
            throw invalid(
                "limit: must be 0.."
                    + MAX_LIST_LIMIT
                    + " (0 means "
                    + DEFAULT_LIST_LIMIT
                    + "), got "
                    + limit);
          }
          Set<JobState> states = EnumSet.noneOf(JobState.class);
          for (JobState state : request.getStatesList()) {
            if (state == JobState.JOB_STATE_UNSPECIFIED || state == JobState.UNRECOGNIZED) {
              throw invalid(
                  "states: must be QUEUED, RUNNING, CANCELLING, SUCCEEDED, FAILED or CANCELLED");
            }
            states.add(state);
          }
          return ListJobsResponse.newBuilder()
              .addAllJobs(scheduler.list(states, limit == 0 ? DEFAULT_LIST_LIMIT : limit))
              .build();
        });
  }

  @Override
  public void watchJob(WatchJobRequest request, StreamObserver<JobEvent> out) {
    try {
      scheduler.watch(
          checkId(request.getId()),
          (ServerCallStreamObserver<JobEvent>) out,
          request.getIncludeTasks());
    } catch (StatusRuntimeException e) {
      out.onError(e);
    }
  }

  @Override
  public void cancelJob(CancelJobRequest request, StreamObserver<CancelJobResponse> out) {
    answer(
        out,
        () -> {
          long graceMs;
          try {
            graceMs = JobSpecRules.cancelGraceMs(request);
          } catch (InvalidJobException e) {
            throw invalid(e.getMessage());
          }
          Map.Entry<Job, Boolean> outcome =
              scheduler.cancel(checkId(request.getId()), request.getReason(), graceMs);
          return CancelJobResponse.newBuilder()
              .setJob(outcome.getKey())
              .setCancelled(outcome.getValue())
              .build();
        });
  }

  @Override
  public void listWorkers(ListWorkersRequest request, StreamObserver<ListWorkersResponse> out) {
    answer(
        out, () -> ListWorkersResponse.newBuilder().addAllWorkers(scheduler.listWorkers()).build());
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
          return scheduler.drainWorker(checkWorkerId(request.getId()), request.getReason().strip());
        });
  }

  @Override
  public void resumeWorker(ResumeWorkerRequest request, StreamObserver<WorkerInfo> out) {
    answer(out, () -> scheduler.resumeWorker(checkWorkerId(request.getId())));
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

  private interface Call<T> {
    T run();
  }

  /** Runs a unary call, turning status exceptions into the call's status. */
  private static <T> void answer(StreamObserver<T> out, Call<T> call) {
    T value;
    try {
      value = call.run();
    } catch (StatusRuntimeException e) {
      out.onError(e);
      return;
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "a JobService call failed", e);
      out.onError(
          Status.INTERNAL
              .withDescription("the coordinator failed to answer: " + e)
              .asRuntimeException());
      return;
    }
    out.onNext(value);
    out.onCompleted();
  }
}
