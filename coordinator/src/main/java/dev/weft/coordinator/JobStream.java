package dev.weft.coordinator;

import dev.weft.v1.Job;
import dev.weft.v1.JobAccepted;
import dev.weft.v1.JobRejected;
import dev.weft.v1.RunJobsResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;

/**
 * One {@code RunJobs} stream, as the conductor sees it: the jobs it submitted that have not ended,
 * and the answers waiting to go out. Each job is answered accepted (once durable) and then
 * finished, or finished alone when it ended before its spec was synced, or rejected. Conductor
 * thread only.
 */
final class JobStream {
  /** Unfinished jobs one stream may have; more are rejected with RESOURCE_EXHAUSTED. */
  static final int MAX_OPEN = 65_536;

  private final Conductor conductor;
  private final Scheduler scheduler;
  private final ServerCallStreamObserver<RunJobsResponse> call;
  private final StreamOutbox<RunJobsResponse> outbox;
  private int open;
  private boolean clientDone;

  /** Where one job of the stream stands. */
  private static final class Entry {
    final long ref;
    final String id;
    boolean ended;

    Entry(long ref, String id) {
      this.ref = ref;
      this.id = id;
    }
  }

  JobStream(
      Conductor conductor, Scheduler scheduler, ServerCallStreamObserver<RunJobsResponse> call) {
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.call = call;
    // Each open job has at most two answers waiting: the bound follows from MAX_OPEN.
    this.outbox = new StreamOutbox<>(call, 2 * MAX_OPEN + 1, scheduler.outboxes());
  }

  /** Writes what waits; the stream's onReady handler posts this. */
  void flush() {
    outbox.flush();
  }

  /** Registers a job the client's request described, checked and planned off the conductor. */
  void submit(long ref, JobIntake.Planned planned) {
    call.request(1);
    if (open >= MAX_OPEN) {
      planned.plan().close();
      reject(
          ref,
          Status.RESOURCE_EXHAUSTED.withDescription(
              "this stream already has "
                  + MAX_OPEN
                  + " unfinished jobs; wait for some to finish, or open another stream"));
      return;
    }
    Scheduler.Submission submission;
    try {
      submission = scheduler.submit(planned);
    } catch (StatusRuntimeException e) {
      reject(ref, e.getStatus());
      return;
    }
    open++;
    Entry entry = new Entry(ref, submission.job().id());
    scheduler.whenFinished(entry.id).thenAccept(job -> ended(entry, job));
    submission
        .durable()
        .whenComplete((ok, failure) -> conductor.post(() -> durable(entry, failure)));
  }

  private void durable(Entry entry, Throwable failure) {
    if (entry.ended) {
      return; // it finished first: that answer said all
    }
    if (failure == null) {
      outbox.offer(
          RunJobsResponse.newBuilder()
              .setRef(entry.ref)
              .setJobId(entry.id)
              .setAccepted(JobAccepted.getDefaultInstance())
              .build());
      return;
    }
    entry.ended = true; // its end (it is stopped now) is not reported: it was rejected
    open--;
    String why = String.valueOf(JobEndpoint.rootCause(failure).getMessage());
    reject(entry.ref, Status.UNAVAILABLE.withDescription("the job could not be recorded: " + why));
    scheduler.notRecorded(entry.id, why);
    completeIfDone();
  }

  private void ended(Entry entry, Job job) {
    if (entry.ended) {
      return;
    }
    entry.ended = true;
    open--;
    outbox.offer(
        RunJobsResponse.newBuilder().setRef(entry.ref).setJobId(entry.id).setFinished(job).build());
    completeIfDone();
  }

  /** A request refused before it reached the conductor (a bad spec): the next one may come. */
  void refused(long ref, Status status) {
    call.request(1);
    reject(ref, status);
  }

  /** A request that could not become a job (bad spec, shutting down, too many open). */
  private void reject(long ref, Status status) {
    outbox.offer(
        RunJobsResponse.newBuilder()
            .setRef(ref)
            .setRejected(
                JobRejected.newBuilder()
                    .setCode(status.getCode().value())
                    .setMessage(String.valueOf(status.getDescription())))
            .build());
  }

  /** The client sent its last request: the stream ends once its open jobs have. */
  void clientDone() {
    clientDone = true;
    completeIfDone();
  }

  /** The client went away: nothing more is written; its jobs run on. */
  void cancelled() {
    outbox.close();
  }

  private void completeIfDone() {
    if (clientDone && open == 0) {
      outbox.finish(null);
    }
  }
}
