package dev.weft.client;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.RunJobRequest;
import dev.weft.v1.WatchJobRequest;
import dev.weft.wire.Leaders;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Follows one job until it finishes (a CANCELLING job has not: it finishes once its running tasks
 * have stopped), from its submission ({@link #run}, one RunJob call) or by its id ({@link #await}),
 * on the calling thread, which blocks (the client runs watches on virtual threads). Each WatchJob
 * stream has a deadline; when it expires, or the coordinator drops the stream, the watch starts
 * again, its first event a fresh snapshot. When the stream breaks, the watch starts again at the
 * leading coordinator (the same one, back, or another that shares its journal); none within the
 * connection's patience ends the watch with an {@link UnavailableException}.
 */
final class Watch {
  static final Duration WATCH_DEADLINE = Duration.ofMinutes(30);
  private static final long MAX_BACKOFF_MS = 2_000;

  /** Hears every event, on the watching thread; may block it (until a subscriber asks for more). */
  interface Listener {
    void event(JobEvent event) throws InterruptedException;
  }

  private final Connection connection;
  private final Duration watchDeadline;
  private final boolean includeTasks;
  private volatile Context.CancellableContext current;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private boolean
      heard; // an event arrived on the current stream (only the watching thread uses it)

  Watch(Connection connection, Duration watchDeadline, boolean includeTasks) {
    this.connection = connection;
    this.watchDeadline = watchDeadline;
    this.includeTasks = includeTasks;
  }

  static boolean isFinal(JobState state) {
    return state == JobState.SUCCEEDED || state == JobState.FAILED || state == JobState.CANCELLED;
  }

  /**
   * Submits {@code spec} with {@code requestId} and follows the job in one RunJob call; {@code
   * accepted} hears the job once the coordinator has it. A stream that breaks after that leaves the
   * job running, so the wait goes on as {@link #await} does; a coordinator that predates RunJob
   * (UNIMPLEMENTED) gets SubmitJob and then WatchJob. A RunJob that no leader saw (refused, or
   * turned away by a standby) goes to the leader; so does one whose stream broke before the job was
   * accepted, with the same request id, so a leader that has the job answers with it. With one
   * coordinator, that break is an {@link UnavailableException}: the job may have been submitted.
   *
   * <p>A {@link #stop} before the job is accepted takes effect only once it is, so that the caller
   * learns the job's id: the submission cannot be called back, only the job.
   */
  Job run(JobSpec spec, String requestId, Consumer<Job> accepted, Listener listener)
      throws InterruptedException {
    Connection.Follow follow = connection.follow(false, Thread::sleep);
    Accepting accepting;
    while (true) {
      accepting = new Accepting();
      StatusRuntimeException followOn = null;
      Context.CancellableContext context = Context.current().withCancellation();
      // The acceptance must come within a unary call's deadline, as SubmitJob's answer would; the
      // stream itself lives as long as a watch.
      Accepting waiting = accepting;
      CompletableFuture.delayedExecutor(Connection.UNARY_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
          .execute(
              () -> {
                if (waiting.id == null) {
                  waiting.timedOut = true;
                  context.cancel(null);
                }
              });
      Context previous = context.attach();
      try {
        Iterator<JobEvent> events =
            connection
                .stub(watchDeadline)
                .runJob(
                    RunJobRequest.newBuilder()
                        .setSpec(spec)
                        .setRequestId(requestId)
                        .setIncludeTasks(includeTasks)
                        .build());
        if (!events.hasNext()) {
          // A coordinator must answer with the job or a status; an empty stream is neither.
          throw new WeftException(
              Status.Code.INTERNAL,
              connection.address().toString(),
              "the coordinator at " + connection.address() + " ended RunJob without answering",
              null);
        }
        JobEvent first = events.next();
        Job job = first.hasFinished() ? first.getFinished() : first.getSnapshot();
        accepting.id = job.getId();
        accepted.accept(job);
        current = context;
        listener.event(first);
        if (first.hasFinished() || isFinal(job.getState())) {
          return job;
        }
        checkStopped();
        Job finished = follow(events, listener);
        if (finished != null) {
          return finished;
        }
      } catch (StatusRuntimeException e) {
        if (accepting.id == null) {
          Status.Code code = e.getStatus().getCode();
          if (accepting.timedOut && connection.followsLeader()) {
            // No answer in time (a stopped coordinator accepts connections and says nothing):
            // the next address, with the same request id.
            followOn =
                Status.DEADLINE_EXCEEDED
                    .withDescription(
                        "no answer within " + Connection.format(Connection.UNARY_DEADLINE))
                    .asRuntimeException();
          } else if (accepting.timedOut) {
            throw connection.unreachable(Status.DEADLINE_EXCEEDED);
          } else if (code == Status.Code.UNAVAILABLE
              && (Leaders.notActedOn(e) || connection.followsLeader())) {
            // Refused, or a standby: the job is nowhere yet; or the stream broke after the spec
            // went out: the leader answers the same request id with the job, if it has it.
            followOn = e;
          } else if (code == Status.Code.UNAVAILABLE) {
            throw connection.maybeActedOn(e, "submitted");
          } else if (code != Status.Code.UNIMPLEMENTED) {
            throw connection.failure(e);
          } else {
            accepting.older = true;
          }
        } else {
          checkStopped();
          // Accepted, then the stream broke: the job runs on; follow it by its id.
        }
      } finally {
        context.detach(previous);
        context.cancel(null);
      }
      if (followOn == null) {
        break;
      }
      follow.failed(followOn);
    }
    if (accepting.older) {
      // Outside the RunJob's context, which the acceptance timer may still cancel.
      Job job =
          connection.submit(
              s ->
                  s.submitJob(
                      dev.weft.v1.SubmitJobRequest.newBuilder()
                          .setSpec(spec)
                          .setRequestId(requestId)
                          .build()));
      accepting.id = job.getId();
      accepted.accept(job);
    }
    return await(accepting.id, listener);
  }

  /** What {@link #run} knows before its job is accepted; the timer reads it on its own thread. */
  private static final class Accepting {
    volatile String id;
    volatile boolean timedOut;
    boolean older; // the coordinator has no RunJob (only the watching thread uses it)
  }

  /**
   * Returns the job once it has finished.
   *
   * @throws CancellationException once {@link #stop} was called
   */
  Job await(String id, Listener listener) throws InterruptedException {
    // Patient even with one address: the coordinator may be restarting.
    Connection.Follow follow = connection.follow(true, this::pause);
    long backoffMs = 100;
    while (true) {
      Context.CancellableContext context = Context.current().withCancellation();
      // Published before checking the flag, and stop() sets the flag before reading this: one of
      // the two always sees the other, so a stop never misses a stream.
      current = context;
      if (isStopped()) {
        context.cancel(null);
        checkStopped();
      }
      heard = false;
      Context previous = context.attach();
      try {
        Job finished =
            follow(
                connection
                    .stub(watchDeadline)
                    .watchJob(
                        WatchJobRequest.newBuilder()
                            .setId(id)
                            .setIncludeTasks(includeTasks)
                            .build()),
                listener);
        if (finished != null) {
          return finished;
        }
        // The stream ended without its final event (the coordinator is shutting down, say): watch
        // again after a pause; the next snapshot tells whether the job is done.
        follow.reset();
        pause(backoffMs);
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      } catch (StatusRuntimeException e) {
        checkStopped();
        if (heard) {
          // This stream worked for a while: a new outage starts now.
          follow.reset();
          backoffMs = 100;
        }
        Status status = e.getStatus();
        if (status.getCode() == Status.Code.DEADLINE_EXCEEDED && connection.isConnected()) {
          continue; // this watch's deadline passed, the job runs on: watch again
        }
        if (!retryable(status, context.isCancelled())) {
          throw connection.failure(e);
        }
        // Gone, or a standby now: the job is in the shared journal; watch it at the leader.
        follow.failed(e);
      } finally {
        context.detach(previous);
        context.cancel(null);
      }
    }
  }

  /**
   * Gone (UNAVAILABLE), no answer in time, or a stream a dying coordinator reset (RST_STREAM, read
   * as INTERNAL, or CANCELLED when it was not this client that cancelled): the job is still in the
   * journal, so it is watched again.
   */
  private static boolean retryable(Status status, boolean cancelledHere) {
    return switch (status.getCode()) {
      case UNAVAILABLE, DEADLINE_EXCEEDED -> true;
      case INTERNAL -> String.valueOf(status.getDescription()).contains("RST_STREAM");
      case CANCELLED -> !cancelledHere;
      default -> false;
    };
  }

  /** Stops watching: {@link #await} ends with a {@link CancellationException}. */
  void stop() {
    stopped.countDown();
    Context.CancellableContext context = current;
    if (context != null) {
      context.cancel(null);
    }
  }

  /** The job once an event says it finished, or null if the stream ends before. */
  private Job follow(Iterator<JobEvent> events, Listener listener) throws InterruptedException {
    while (events.hasNext()) {
      JobEvent event = events.next();
      heard = true;
      listener.event(event);
      if (event.hasFinished()) {
        return event.getFinished();
      }
      if (event.hasSnapshot() && isFinal(event.getSnapshot().getState())) {
        return event.getSnapshot();
      }
    }
    return null;
  }

  /** Waits before watching again; a stop ends the pause at once. */
  private void pause(long ms) throws InterruptedException {
    if (stopped.await(ms, TimeUnit.MILLISECONDS)) {
      checkStopped();
    }
  }

  boolean isStopped() {
    return stopped.getCount() == 0;
  }

  private void checkStopped() {
    if (isStopped()) {
      throw new CancellationException("the watch was stopped");
    }
  }
}
