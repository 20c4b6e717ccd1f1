package dev.weft.bench;

import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RunJobsRequest;
import dev.weft.v1.RunJobsResponse;
import io.grpc.Channel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Copies of one job over one RunJobs stream, {@code window} unfinished at any time, for a while;
 * answers how many finished per second. Requests go out only while the stream {@code isReady()}, so
 * the client never buffers beyond what gRPC's flow control lets through.
 *
 * <p>gRPC runs the on-ready handler and the response callbacks one at a time, so the counters below
 * need no lock; the caller only waits on {@link #done}.
 */
final class RunJobsPipeline implements ClientResponseObserver<RunJobsRequest, RunJobsResponse> {
  private final JobSpec spec;
  private final int window;
  private final long nanos;
  private final CompletableFuture<Double> done = new CompletableFuture<>();
  private ClientCallStreamObserver<RunJobsRequest> requests;
  private long start;
  private long nextRef;
  private long inFlight;
  private long finished;
  private boolean answered; // some response came, so the coordinator serves RunJobs
  private boolean closed;

  RunJobsPipeline(JobSpec spec, int window, long nanos) {
    this.spec = spec;
    this.window = window;
    this.nanos = nanos;
  }

  /**
   * Runs the stream, which must end within {@code deadline}; throws the stream's status if it fails
   * before any answer (UNIMPLEMENTED from an older coordinator, say).
   */
  double run(Channel channel, Duration deadline) throws InterruptedException {
    start = System.nanoTime();
    JobServiceGrpc.newStub(channel)
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .runJobs(this);
    try {
      return done.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw s;
      }
      throw new IllegalStateException("RunJobs: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      requests.cancel("the bench gave up", e);
      throw new IllegalStateException("RunJobs did not end within " + deadline, e);
    }
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<RunJobsRequest> requests) {
    this.requests = requests;
    requests.setOnReadyHandler(this::fill);
  }

  /** Sends while the window has room, the stream is ready and the time is not up. */
  private void fill() {
    while (!closed && inFlight < window && requests.isReady()) {
      if (System.nanoTime() - start >= nanos) {
        closeIfDrained();
        return;
      }
      requests.onNext(RunJobsRequest.newBuilder().setRef(nextRef++).setSpec(spec).build());
      inFlight++;
    }
  }

  private void closeIfDrained() {
    if (!closed && inFlight == 0) {
      closed = true;
      double rate = finished * 1e9 / (System.nanoTime() - start);
      requests.onCompleted();
      done.complete(rate);
    }
  }

  @Override
  public void onNext(RunJobsResponse response) {
    answered = true;
    switch (response.getOutcomeCase()) {
      case ACCEPTED -> {}
      case REJECTED ->
          fail(
              "job "
                  + response.getRef()
                  + " rejected: "
                  + response.getRejected().getCode()
                  + " "
                  + response.getRejected().getMessage());
      case FINISHED -> {
        try {
          ClientProbe.checkSucceeded(response.getFinished(), spec.getTasks());
        } catch (IllegalStateException e) {
          fail(e.getMessage());
          return;
        }
        inFlight--;
        finished++;
        if (System.nanoTime() - start >= nanos) {
          closeIfDrained();
        } else {
          fill();
        }
      }
      case OUTCOME_NOT_SET -> fail("an answer about job " + response.getRef() + " says nothing");
    }
  }

  private void fail(String why) {
    if (done.completeExceptionally(new IllegalStateException("RunJobs: " + why))) {
      closed = true;
      requests.cancel(why, null);
    }
  }

  @Override
  public void onError(Throwable t) {
    if (!answered && t instanceof StatusRuntimeException) {
      done.completeExceptionally(t); // the caller tells UNIMPLEMENTED from the rest
    } else {
      done.completeExceptionally(new IllegalStateException("RunJobs failed: " + t, t));
    }
  }

  @Override
  public void onCompleted() {
    done.completeExceptionally(
        new IllegalStateException(
            "the coordinator ended RunJobs with " + inFlight + " jobs unanswered"));
  }
}
