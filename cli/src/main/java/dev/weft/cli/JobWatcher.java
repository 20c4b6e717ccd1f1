package dev.weft.cli;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.Progress;
import dev.weft.v1.RunJobRequest;
import dev.weft.v1.WatchJobRequest;
import dev.weft.wire.Leaders;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Follows a job until it finishes (a CANCELLING job has not: it finishes once its running tasks
 * have stopped), from its submission ({@link #run}, one RunJob call) or by its id ({@link #await}).
 * Each WatchJob stream has a deadline; when it expires, or the coordinator drops the stream, the
 * watch starts again (its first event is a fresh snapshot, so no progress is lost). When the stream
 * breaks, the watch starts again at the leading coordinator (the same one, back, or another that
 * shares its journal; see {@link CoordinatorClient}); none for {@link
 * CoordinatorClient#FOLLOW_PATIENCE} ends the wait with exit code 3.
 */
final class JobWatcher {
  static final Duration WATCH_DEADLINE = Duration.ofMinutes(30);
  private static final long MAX_BACKOFF_MS = 2_000;

  /** Told about the job's progress as events arrive. */
  interface Listener {
    void progress(int done, int failed, int running, int total);

    /** The job's state, from the first snapshot and each change. */
    default void state(JobState state) {}
  }

  private final CoordinatorClient client;
  private final Duration watchDeadline;
  private volatile Context.CancellableContext current;
  private final CountDownLatch detached = new CountDownLatch(1);
  private volatile Supplier<String> detachedMessage;
  private boolean heard; // an event arrived on the current stream (only the waiting thread uses it)

  JobWatcher(CoordinatorClient client, Duration watchDeadline) {
    this.client = client;
    this.watchDeadline = watchDeadline;
  }

  static boolean isFinal(JobState state) {
    return state == JobState.SUCCEEDED || state == JobState.FAILED || state == JobState.CANCELLED;
  }

  /**
   * Submits {@code spec} and follows the job in one RunJob call; {@code accepted} hears the job
   * (its first snapshot) once the coordinator has it. A stream that breaks after that leaves the
   * job running, so the wait goes on as {@link #await} does; a coordinator that predates RunJob
   * (UNIMPLEMENTED) gets SubmitJob and then WatchJob. A RunJob that no leader saw (refused, or
   * turned away by a standby) goes to the leader; so does one whose stream broke before the job was
   * accepted, with the same request id, so a leader that has the job answers with it. With one
   * coordinator, that break is reported: the job may have been submitted.
   *
   * <p>A {@link #detach} before the job is accepted takes effect only once it is, so whoever
   * cancels on Ctrl-C learns the job's id: the submission cannot be called back, only the job.
   */
  Job run(JobSpec spec, Consumer<Job> accepted, Listener listener) throws InterruptedException {
    // Not this::pause: a detach before acceptance waits for it (see above), pauses included.
    CoordinatorClient.Follow follow = client.follow(false, Thread::sleep);
    String requestId = CoordinatorClient.newRequestId();
    Accepting accepting;
    while (true) {
      accepting = new Accepting();
      StatusRuntimeException followOn = null;
      Context.CancellableContext context = Context.current().withCancellation();
      // The acceptance must come within a unary call's deadline, as SubmitJob's answer would; the
      // stream itself lives as long as a watch.
      Accepting waiting = accepting;
      CompletableFuture.delayedExecutor(
              CoordinatorClient.UNARY_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
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
            client
                .stub(watchDeadline)
                .runJob(RunJobRequest.newBuilder().setSpec(spec).setRequestId(requestId).build());
        if (!events.hasNext()) {
          // A coordinator must answer with the job or a status; an empty stream is neither.
          throw new CliException(
              ExitCodes.SOFTWARE,
              "the coordinator at " + client.address() + " ended RunJob without answering");
        }
        JobEvent first = events.next();
        Job job = first.hasFinished() ? first.getFinished() : first.getSnapshot();
        accepting.id = job.getId();
        accepted.accept(job);
        if (first.hasFinished() || isFinal(job.getState())) {
          return job;
        }
        current = context;
        checkDetached();
        listener.state(job.getState());
        listener.progress(
            job.getTasksDone(), job.getTasksFailed(), job.getTasksRunning(), job.getTasksTotal());
        Job finished = follow(events, listener);
        if (finished != null) {
          return finished;
        }
      } catch (StatusRuntimeException e) {
        if (accepting.id == null) {
          Status.Code code = e.getStatus().getCode();
          if (accepting.timedOut && client.followsLeader()) {
            // No answer in time (a stopped coordinator accepts connections and says nothing):
            // the next address, with the same request id.
            followOn =
                Status.DEADLINE_EXCEEDED
                    .withDescription(
                        "no answer within "
                            + DurationConverter.format(CoordinatorClient.UNARY_DEADLINE))
                    .asRuntimeException();
          } else if (accepting.timedOut) {
            throw client.unreachable(Status.DEADLINE_EXCEEDED);
          } else if (code == Status.Code.UNAVAILABLE
              && (Leaders.notActedOn(e) || client.followsLeader())) {
            // Refused, or a standby: the job is nowhere yet; or the stream broke after the spec
            // went out: the leader answers the same request id with the job, if it has it.
            followOn = e;
          } else if (code == Status.Code.UNAVAILABLE) {
            // The stream broke after the spec went out: a leader may have the job.
            throw client.maybeActedOn(e, "submitted");
          } else if (code != Status.Code.UNIMPLEMENTED) {
            throw client.failure(e);
          } else {
            accepting.older = true; // a detach waits until that submission is accepted too
          }
        } else {
          checkDetached();
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
      Job job = client.submit(spec);
      accepting.id = job.getId();
      accepted.accept(job);
    }
    return await(accepting.id, listener);
  }

  /** What {@link #run} knows before its job is accepted; the timer reads it on its own thread. */
  private static final class Accepting {
    volatile String id;
    volatile boolean timedOut;
    boolean older; // the coordinator has no RunJob (only the waiting thread uses it)
  }

  /** Returns the job once it has finished. */
  Job await(String id, Listener listener) throws InterruptedException {
    // Patient even with one address: the coordinator may be restarting.
    CoordinatorClient.Follow follow = client.follow(true, this::pause);
    long backoffMs = 100;
    while (true) {
      Context.CancellableContext context = Context.current().withCancellation();
      // Published before checking the flag, and detach() sets the flag before reading this: one
      // of the two always sees the other, so a detach never misses a stream.
      current = context;
      if (isDetached()) {
        context.cancel(null);
        checkDetached();
      }
      heard = false;
      Context previous = context.attach();
      try {
        Job finished = follow(id, listener);
        if (finished != null) {
          return finished;
        }
        // The stream ended without its final event (the coordinator is shutting down, say): watch
        // again after a pause; the next snapshot tells whether the job is done.
        follow.reset();
        pause(backoffMs);
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      } catch (StatusRuntimeException e) {
        checkDetached();
        if (heard) {
          // This stream worked for a while: a new outage starts now.
          follow.reset();
          backoffMs = 100;
        }
        Status status = e.getStatus();
        if (status.getCode() == Status.Code.DEADLINE_EXCEEDED && client.isConnected()) {
          continue; // this watch's deadline passed, the job runs on: watch again
        }
        // CANCELLED here is the server's (ours was caught by checkDetached): a coordinator that
        // closes its port at once, as one turning from standby to leader does, resets the streams.
        if (!CoordinatorClient.isUnreachable(status) && status.getCode() != Status.Code.CANCELLED) {
          throw e;
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
   * Stops waiting: {@link #await} ends with exit code 130 and the message {@code why} gives then
   * (read at that moment, so it can tell what became of a cancel sent meanwhile).
   */
  void detach(Supplier<String> why) {
    detachedMessage = why;
    detached.countDown();
    Context.CancellableContext context = current;
    if (context != null) {
      context.cancel(null);
    }
  }

  private Job follow(String id, Listener listener) {
    return follow(
        client.stub(watchDeadline).watchJob(WatchJobRequest.newBuilder().setId(id).build()),
        listener);
  }

  /** The job once an event says it finished, or null if the stream ends before. */
  private Job follow(Iterator<JobEvent> events, Listener listener) {
    while (events.hasNext()) {
      JobEvent event = events.next();
      heard = true;
      switch (event.getEventCase()) {
        case SNAPSHOT -> {
          Job job = event.getSnapshot();
          if (isFinal(job.getState())) {
            return job;
          }
          listener.state(job.getState());
          listener.progress(
              job.getTasksDone(), job.getTasksFailed(), job.getTasksRunning(), job.getTasksTotal());
        }
        case PROGRESS -> {
          Progress p = event.getProgress();
          listener.progress(p.getDone(), p.getFailed(), p.getRunning(), p.getTotal());
        }
        case STATE -> listener.state(event.getState());
        case FINISHED -> {
          return event.getFinished();
        }
        default -> {
          // task events: the next progress event or the final one says it all
        }
      }
    }
    return null;
  }

  /** Waits before watching again; a detach ends the pause at once. */
  private void pause(long ms) throws InterruptedException {
    if (detached.await(ms, TimeUnit.MILLISECONDS)) {
      checkDetached();
    }
  }

  private boolean isDetached() {
    return detached.getCount() == 0;
  }

  private void checkDetached() {
    if (isDetached()) {
      throw new CliException(ExitCodes.INTERRUPTED, detachedMessage.get());
    }
  }
}
