package dev.weft.coordinator;

import dev.weft.v1.JobEvent;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;

/**
 * The clients watching one job. Each has a bounded {@link StreamOutbox}: progress and state events
 * are coalesced, so a slow watcher sees the latest counts rather than every step; a watcher of task
 * events that falls a full outbox behind is ended with RESOURCE_EXHAUSTED (watching again starts
 * from a fresh snapshot). Nobody waits for a watcher. Conductor thread only.
 */
final class JobWatchers {
  /** Events one watcher may have waiting before it counts as fallen behind. */
  static final int OUTBOX_LIMIT = 4096;

  /** One watching stream; {@code held} until its job is durable (RunJob). */
  static final class Watcher {
    final StreamOutbox<JobEvent> outbox;
    final boolean includeTasks;
    private boolean held;

    Watcher(StreamOutbox<JobEvent> outbox, boolean includeTasks) {
      this.outbox = outbox;
      this.includeTasks = includeTasks;
    }
  }

  private final List<Watcher> watchers = new ArrayList<>();
  private JobEvent last; // the finishing event, once the job has ended

  /** Adds a watcher whose first event is {@code first} (a snapshot). */
  void add(Watcher watcher, JobEvent first) {
    if (last != null) {
      watcher.outbox.finish(last);
      return;
    }
    watcher.outbox.offer(first);
    watchers.add(watcher);
  }

  /**
   * Adds a watcher that hears nothing until {@link #release}: a job being submitted is announced
   * only once durable, unless it ends first.
   */
  void addHeld(Watcher watcher) {
    watcher.held = true;
    if (last != null) {
      watcher.outbox.finish(last);
      return;
    }
    watchers.add(watcher);
  }

  /** Lets a held watcher hear the job, starting from {@code snapshot}. */
  void release(Watcher watcher, JobEvent snapshot) {
    if (!watcher.held) {
      return;
    }
    watcher.held = false;
    if (watchers.contains(watcher)) {
      watcher.outbox.offer(snapshot);
    }
  }

  void remove(Watcher watcher) {
    watchers.remove(watcher);
    watcher.outbox.close();
  }

  boolean isEmpty() {
    return watchers.isEmpty();
  }

  boolean wantsTasks() {
    for (Watcher watcher : watchers) {
      if (watcher.includeTasks) {
        return true;
      }
    }
    return false;
  }

  /** A state or progress event: coalesced with the previous progress still waiting. */
  void emit(JobEvent event) {
    for (Watcher watcher : watchers) {
      if (!watcher.held) {
        watcher.outbox.offerCoalescing(event, JobWatchers::isProgress);
      }
    }
  }

  void emitTask(JobEvent event) {
    List<Watcher> behind = null;
    for (Watcher watcher : watchers) {
      if (watcher.includeTasks && !watcher.held && !watcher.outbox.offer(event)) {
        if (behind == null) {
          behind = new ArrayList<>();
        }
        behind.add(watcher);
      }
    }
    if (behind != null) {
      for (Watcher watcher : behind) {
        watchers.remove(watcher);
        watcher.outbox.fail(
            Status.RESOURCE_EXHAUSTED.withDescription(
                "this watcher fell "
                    + OUTBOX_LIMIT
                    + " events behind the job's task events; watch again (a new snapshot) or"
                    + " watch without task events"));
      }
    }
  }

  private static boolean isProgress(JobEvent event) {
    return event.hasProgress();
  }

  /** Sends the final event and ends every stream (held ones too: the job ended first). */
  void finish(JobEvent finished) {
    last = finished;
    for (Watcher watcher : watchers) {
      watcher.held = false;
      watcher.outbox.finish(finished);
    }
    watchers.clear();
  }

  /** Ends every stream with the given error (the coordinator is shutting down). */
  void abort(Status status) {
    for (Watcher watcher : watchers) {
      watcher.outbox.fail(status);
    }
    watchers.clear();
  }
}
