package dev.weft.client;

import dev.weft.v1.Job;
import dev.weft.v1.JobRejected;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RunJobsRequest;
import dev.weft.v1.RunJobsResponse;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.wire.Leaders;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Many jobs over one RunJobs stream, for programs that run many small ones: each {@link #submit}
 * returns a future of the job's end, completed as {@link JobHandle#result()} is. Made by {@link
 * WeftClient#openStream}; thread-safe.
 *
 * <p>At most {@code window} jobs of a stream are unfinished at once: {@link #submit} blocks while
 * that many are (the coordinator's own bound is 65536). When the stream breaks, jobs the
 * coordinator had accepted are watched by their id until they end, at the leader; jobs it had not
 * are sent again on a new stream when the coordinator surely never saw them (the connection was
 * refused, or a standby answered), and otherwise fail with an {@link UnavailableException} of
 * reason {@code MAYBE_ACTED_ON}, since sending them again could run them twice. {@link #close} ends
 * the stream once its jobs have finished; it does not cancel them.
 */
public final class JobStream implements AutoCloseable {
  private final WeftClient client;
  private final Connection connection;
  private final Semaphore window;
  private final Object lock = new Object();
  private final Map<Long, Pending> pending = new HashMap<>(); // guarded by lock
  private Attempt current; // guarded by lock; null until a job is sent, or after a break
  private long nextRef; // guarded by lock
  private boolean closed; // guarded by lock
  private boolean unimplemented; // guarded by lock: the coordinator predates RunJobs

  JobStream(WeftClient client, Connection connection, int window) {
    if (window < 1 || window > 65_536) {
      throw new IllegalArgumentException("window " + window + ": 1..65536 unfinished jobs");
    }
    this.client = client;
    this.connection = connection;
    this.window = new Semaphore(window);
  }

  /** One job of the stream, until its future completes. */
  private static final class Pending {
    final long ref;
    final JobSpec spec;
    final CompletableFuture<Job> future = new CompletableFuture<>();
    String jobId; // guarded by the stream's lock; set once accepted

    Pending(long ref, JobSpec spec) {
      this.ref = ref;
      this.spec = spec;
    }
  }

  /** As {@link #submit(JobSpec)}, for a job built with {@link Jobs}. */
  public CompletableFuture<Job> submit(JobBuilder<?> job) throws InterruptedException {
    return submit(job.spec());
  }

  /**
   * Sends a job; its future completes once it has ended, as {@link JobHandle#result()} does, or
   * exceptionally when the coordinator rejects it (an {@link InvalidArgumentException}, say).
   * Blocks while {@code window} jobs of this stream are unfinished.
   *
   * @throws IllegalStateException once the stream was closed
   */
  public CompletableFuture<Job> submit(JobSpec spec) throws InterruptedException {
    window.acquire();
    Pending job;
    boolean older;
    synchronized (lock) {
      if (closed) {
        window.release();
        throw new IllegalStateException("the job stream is closed");
      }
      job = new Pending(nextRef++, spec);
      pending.put(job.ref, job);
      older = unimplemented;
      if (!older) {
        send(List.of(job));
      }
    }
    if (older) {
      client.background(() -> submitAlone(job));
    }
    return job.future.copy();
  }

  /** Sends {@code jobs} on the current attempt, opening one if there is none. */
  private void send(List<Pending> jobs) {
    if (current == null) {
      current = new Attempt();
      try {
        JobServiceGrpc.newStub(connection.channel())
            .withDeadlineAfter(Watch.WATCH_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
            .runJobs(current);
      } catch (RuntimeException e) {
        // No channel (no token for that address): as a stream that failed before anything went.
        Attempt failed = current;
        client.background(() -> failed.onError(e));
        return;
      }
    }
    for (Pending job : jobs) {
      current.sent.add(job.ref);
      current.requests.onNext(
          RunJobsRequest.newBuilder().setRef(job.ref).setSpec(job.spec).build());
    }
  }

  /** One RunJobs call; a new one follows a break. Callbacks run on a transport thread. */
  private final class Attempt implements ClientResponseObserver<RunJobsRequest, RunJobsResponse> {
    final List<Long> sent = new ArrayList<>(); // guarded by the stream's lock
    ClientCallStreamObserver<RunJobsRequest> requests;
    boolean answered; // guarded by the stream's lock
    boolean halfClosed; // guarded by the stream's lock

    @Override
    public void beforeStart(ClientCallStreamObserver<RunJobsRequest> requests) {
      this.requests = requests;
    }

    @Override
    public void onNext(RunJobsResponse response) {
      Pending job;
      synchronized (lock) {
        answered = true;
        job = pending.get(response.getRef());
        if (job == null) {
          return; // a job this stream no longer waits for
        }
        switch (response.getOutcomeCase()) {
          case ACCEPTED -> {
            job.jobId = response.getJobId();
            return;
          }
          case REJECTED, FINISHED -> forget(job);
          default -> {
            return;
          }
        }
      }
      if (response.hasRejected()) {
        complete(job, rejected(response.getRejected()));
      } else {
        Job finished = response.getFinished();
        client.background(() -> WeftClient.settle(job.future, finished));
      }
    }

    @Override
    public void onError(Throwable t) {
      ended(Status.fromThrowable(t).asRuntimeException(Status.trailersFromThrowable(t)), t);
    }

    @Override
    public void onCompleted() {
      ended(
          Status.UNAVAILABLE
              .withDescription("the coordinator ended the RunJobs stream")
              .asRuntimeException(),
          null);
    }

    /** The call is over with jobs unfinished: each goes on as the class comment says. */
    private void ended(StatusRuntimeException status, Throwable cause) {
      List<Pending> accepted = new ArrayList<>();
      List<Pending> unsent = new ArrayList<>();
      boolean older;
      synchronized (lock) {
        if (current == this) {
          current = null;
        }
        older = !answered && status.getStatus().getCode() == Status.Code.UNIMPLEMENTED;
        unimplemented |= older;
        for (long ref : sent) {
          Pending job = pending.get(ref);
          if (job == null) {
            continue;
          }
          (job.jobId != null ? accepted : unsent).add(job);
        }
      }
      for (Pending job : accepted) {
        client.background(() -> watch(job));
      }
      if (unsent.isEmpty()) {
        return;
      }
      if (older) {
        unsent.forEach(job -> client.background(() -> submitAlone(job)));
      } else if (status.getStatus().getCode() == Status.Code.UNAVAILABLE
          && Leaders.notActedOn(cause == null ? status : cause)) {
        client.background(() -> resend(status, unsent));
      } else {
        WeftException failure =
            status.getStatus().getCode() == Status.Code.UNAVAILABLE
                ? connection.maybeActedOn(status, "submitted")
                : connection.failure(status);
        for (Pending job : unsent) {
          forgetLocked(job);
          complete(job, failure);
        }
      }
    }
  }

  /** After a stream no coordinator acted on: finds the leader, then sends the jobs again there. */
  private void resend(StatusRuntimeException status, List<Pending> jobs) {
    try {
      connection.follow(false, Thread::sleep).failed(status);
    } catch (WeftException e) {
      for (Pending job : jobs) {
        forgetLocked(job);
        complete(job, e);
      }
      return;
    }
    synchronized (lock) {
      send(jobs);
    }
  }

  /** A job accepted on a stream that broke: followed by its id at the leader until it ends. */
  private void watch(Pending job) {
    String id;
    synchronized (lock) {
      id = job.jobId;
    }
    client.watchInto(id, job.future);
    job.future.whenComplete((done, failed) -> forgetLocked(job));
  }

  /** For a coordinator without RunJobs: SubmitJob (with a request id), then a watch. */
  private void submitAlone(Pending job) {
    try {
      Job submitted =
          connection.submit(
              s ->
                  s.submitJob(
                      SubmitJobRequest.newBuilder()
                          .setSpec(job.spec)
                          .setRequestId(UUID.randomUUID().toString())
                          .build()));
      synchronized (lock) {
        job.jobId = submitted.getId();
      }
      watch(job);
    } catch (WeftException e) {
      forgetLocked(job);
      complete(job, e);
    }
  }

  private WeftException rejected(JobRejected rejected) {
    Status.Code code = Status.fromCodeValue(rejected.getCode()).getCode();
    return connection.failure(
        Status.fromCode(code).withDescription(rejected.getMessage()).asRuntimeException());
  }

  private void complete(Pending job, Throwable failure) {
    client.background(() -> job.future.completeExceptionally(failure));
  }

  private void forgetLocked(Pending job) {
    synchronized (lock) {
      forget(job);
    }
  }

  /** No longer unfinished: frees its place in the window; the last one ends a closed stream. */
  private void forget(Pending job) {
    if (pending.remove(job.ref) != null) {
      window.release();
    }
    halfCloseIfDone();
  }

  private void halfCloseIfDone() {
    if (closed && pending.isEmpty() && current != null && !current.halfClosed) {
      current.halfClosed = true;
      current.requests.onCompleted();
    }
  }

  /**
   * Takes no more jobs, and ends the stream once those sent have finished; does not wait, and
   * cancels nothing (the futures complete as the jobs end).
   */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      halfCloseIfDone();
    }
  }
}
