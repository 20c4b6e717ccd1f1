package dev.weft.cli;

import dev.weft.v1.CancelJobResponse;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;

/**
 * What Ctrl-C does to {@code weft submit --wait}: the first cancels the job and the wait goes on
 * until the job has settled; the second stops waiting (exit 130). A Ctrl-C that comes while the job
 * is being submitted cancels it as soon as the coordinator has accepted it, so a job is never left
 * running by a Ctrl-C.
 *
 * <p>{@link #first} and {@link #again} run on signal threads, {@link #submitted} on the waiting
 * thread.
 */
final class CancelOnInterrupt {
  static final String REASON = "cancelled with Ctrl-C";

  private enum Cancel {
    NOT_ASKED,
    ASKED, // Ctrl-C came before the job was submitted
    SENT,
    ACCEPTED,
    FAILED,
  }

  private final CoordinatorClient coordinator;
  private final JobWatcher watcher;
  private final ProgressBar bar;
  private final PrintWriter err;
  private String jobId; // guarded by this; null until the coordinator has accepted the job
  private Cancel cancel = Cancel.NOT_ASKED; // guarded by this

  CancelOnInterrupt(
      CoordinatorClient coordinator, JobWatcher watcher, ProgressBar bar, PrintWriter err) {
    this.coordinator = coordinator;
    this.watcher = watcher;
    this.bar = bar;
    this.err = err;
  }

  /** The first Ctrl-C. */
  void first() {
    String id;
    synchronized (this) {
      id = jobId;
      cancel = id == null ? Cancel.ASKED : Cancel.SENT;
    }
    if (id == null) {
      say("cancelling the job as soon as the coordinator has it; Ctrl-C again to stop waiting");
    } else {
      send(id);
    }
  }

  /** The coordinator has accepted job {@code id}; cancels it if Ctrl-C came first. */
  void submitted(String id) {
    boolean asked;
    synchronized (this) {
      jobId = id;
      asked = cancel == Cancel.ASKED;
      if (asked) {
        cancel = Cancel.SENT;
      }
    }
    if (asked) {
      send(id);
    }
  }

  /** The second Ctrl-C: stop waiting, saying what becomes of the job. */
  void again() {
    watcher.detach(this::detachedMessage);
  }

  private void send(String id) {
    say("cancelling job " + id + "; Ctrl-C again to stop waiting");
    Cancel outcome;
    try {
      CancelJobResponse response = coordinator.cancel(id, REASON);
      outcome = Cancel.ACCEPTED;
      if (!response.getCancelled()) {
        say("job " + id + " had already finished"); // the wait ends at once and shows how
      }
    } catch (CliException | StatusRuntimeException e) {
      say("could not cancel job " + id + ": " + e.getMessage() + "; still waiting for it");
      outcome = Cancel.FAILED;
    }
    synchronized (this) {
      cancel = outcome;
    }
  }

  private synchronized String detachedMessage() {
    return switch (cancel) {
      case ACCEPTED ->
          "stopped waiting; job "
              + jobId
              + " goes on cancelling; follow it with: weft status "
              + jobId;
      case SENT ->
          "stopped waiting; the cancel of job "
              + jobId
              + " was sent but not confirmed; check with: weft status "
              + jobId;
      case NOT_ASKED, ASKED, FAILED ->
          "stopped waiting; job "
              + jobId
              + " was not cancelled and keeps running; weft cancel "
              + jobId
              + " cancels it";
    };
  }

  private void say(String message) {
    bar.clear();
    err.println(message);
    err.flush();
  }
}
