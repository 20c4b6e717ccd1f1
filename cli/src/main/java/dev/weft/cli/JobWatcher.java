package dev.weft.cli;

import dev.weft.client.ToolConnection;
import dev.weft.client.WeftException;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.Progress;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Follows a job until it finishes (a CANCELLING job has not: it finishes once its running tasks
 * have stopped), from its submission ({@link #run}, one RunJob call) or by its id ({@link #await}),
 * through the Java client's watch ({@link ToolConnection.JobWatch}): each stream has a deadline and
 * starts again after it (its first event a fresh snapshot, so no progress is lost), and a stream
 * that breaks starts again at the leading coordinator; none for {@link
 * CoordinatorClient#FOLLOW_PATIENCE} ends the wait with exit code 3. Events reach a {@link
 * Listener} as progress and states.
 */
final class JobWatcher {
  static final Duration WATCH_DEADLINE = ToolConnection.WATCH_DEADLINE;

  /** Told about the job's progress as events arrive. */
  interface Listener {
    void progress(int done, int failed, int running, int total);

    /** The job's state, from the first snapshot and each change. */
    default void state(JobState state) {}
  }

  private final CoordinatorClient client;
  private final ToolConnection.JobWatch watch;
  private volatile Supplier<String> detachedMessage;

  JobWatcher(CoordinatorClient client, Duration watchDeadline) {
    this.client = client;
    this.watch = client.watch(watchDeadline);
  }

  static boolean isFinal(JobState state) {
    return state == JobState.SUCCEEDED || state == JobState.FAILED || state == JobState.CANCELLED;
  }

  /**
   * Submits {@code spec} and follows the job in one RunJob call; {@code accepted} hears the job
   * (its first snapshot) once the coordinator has it. With one coordinator, a stream that broke
   * before then is reported: the job may have been submitted.
   *
   * <p>A {@link #detach} before the job is accepted takes effect only once it is, so whoever
   * cancels on Ctrl-C learns the job's id: the submission cannot be called back, only the job.
   */
  Job run(JobSpec spec, Consumer<Job> accepted, Listener listener) throws InterruptedException {
    try {
      return watch.run(spec, CoordinatorClient.newRequestId(), accepted, heard(listener));
    } catch (CancellationException e) {
      throw detached();
    } catch (WeftException e) {
      throw client.said(e);
    }
  }

  /** Returns the job once it has finished. */
  Job await(String id, Listener listener) throws InterruptedException {
    try {
      return watch.await(id, heard(listener));
    } catch (CancellationException e) {
      throw detached();
    } catch (WeftException e) {
      throw client.said(e);
    }
  }

  /**
   * Stops waiting: {@link #await} ends with exit code 130 and the message {@code why} gives then
   * (read at that moment, so it can tell what became of a cancel sent meanwhile).
   */
  void detach(Supplier<String> why) {
    detachedMessage = why;
    watch.stop();
  }

  private CliException detached() {
    return new CliException(ExitCodes.INTERRUPTED, detachedMessage.get());
  }

  /** The events as progress and states; a final one is the watch's answer, not news. */
  private static ToolConnection.Listener heard(Listener listener) {
    return (JobEvent event) -> {
      switch (event.getEventCase()) {
        case SNAPSHOT -> {
          Job job = event.getSnapshot();
          if (!isFinal(job.getState())) {
            listener.state(job.getState());
            listener.progress(
                job.getTasksDone(),
                job.getTasksFailed(),
                job.getTasksRunning(),
                job.getTasksTotal());
          }
        }
        case PROGRESS -> {
          Progress p = event.getProgress();
          listener.progress(p.getDone(), p.getFailed(), p.getRunning(), p.getTotal());
        }
        case STATE -> listener.state(event.getState());
        default -> {
          // FINISHED ends the watch; task events: the next progress event says it all
        }
      }
    };
  }
}
