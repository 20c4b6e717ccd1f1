package dev.weft.coordinator;

import com.google.common.util.concurrent.MoreExecutors;
import dev.weft.v1.JobEvent;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * The clients watching one job. Events are handed to each watcher's own sequential executor, so the
 * scheduler never blocks on a slow client and each stream sees events in order.
 */
final class JobWatchers {
  private final Executor executor;
  private final List<Watcher> watchers = new ArrayList<>();
  private boolean finished;

  JobWatchers(Executor executor) {
    this.executor = executor;
  }

  private record Watcher(
      ServerCallStreamObserver<JobEvent> stream, boolean includeTasks, Executor sequence) {}

  /** Adds a watcher; the caller sends it a snapshot first, under the same lock. */
  void add(ServerCallStreamObserver<JobEvent> stream, boolean includeTasks, JobEvent first) {
    Watcher watcher =
        new Watcher(stream, includeTasks, MoreExecutors.newSequentialExecutor(executor));
    watcher.sequence().execute(() -> deliver(watcher, first));
    if (finished) {
      watcher.sequence().execute(() -> complete(watcher));
      return;
    }
    watchers.add(watcher);
  }

  void remove(ServerCallStreamObserver<JobEvent> stream) {
    watchers.removeIf(w -> w.stream() == stream);
  }

  boolean isEmpty() {
    return watchers.isEmpty();
  }

  boolean wantsTasks() {
    for (Watcher watcher : watchers) {
      if (watcher.includeTasks()) {
        return true;
      }
    }
    return false;
  }

  void emit(JobEvent event) {
    for (Watcher watcher : watchers) {
      watcher.sequence().execute(() -> deliver(watcher, event));
    }
  }

  void emitTask(JobEvent event) {
    for (Watcher watcher : watchers) {
      if (watcher.includeTasks()) {
        watcher.sequence().execute(() -> deliver(watcher, event));
      }
    }
  }

  /** Sends the final event and ends every stream. */
  void finish(JobEvent last) {
    finished = true;
    for (Watcher watcher : watchers) {
      watcher.sequence().execute(() -> deliver(watcher, last));
      watcher.sequence().execute(() -> complete(watcher));
    }
    watchers.clear();
  }

  /** Ends every stream with the given error (the coordinator is shutting down). */
  void abort(io.grpc.Status status) {
    for (Watcher watcher : watchers) {
      watcher
          .sequence()
          .execute(
              () -> {
                if (!watcher.stream().isCancelled()) {
                  watcher.stream().onError(status.asRuntimeException());
                }
              });
    }
    watchers.clear();
  }

  private static void deliver(Watcher watcher, JobEvent event) {
    if (!watcher.stream().isCancelled()) {
      watcher.stream().onNext(event);
    }
  }

  private static void complete(Watcher watcher) {
    if (!watcher.stream().isCancelled()) {
      watcher.stream().onCompleted();
    }
  }
}
