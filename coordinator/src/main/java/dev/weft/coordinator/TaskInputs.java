package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import dev.weft.kinds.TaskPlan;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * Where a job's task inputs come from. Most plans compute an input in moments and are asked on the
 * conductor; a plan that reads files ({@link TaskPlan#readsFiles}) is read ahead on the I/O
 * executor, a few tasks at a time, and a task is dispatched only once its input is in memory, so a
 * slow disk or a stalled network file system delays that job alone. Conductor thread only.
 */
final class TaskInputs {
  // Chunks read ahead per job: enough to keep a worker fed while the next one is read, few enough
  // that large chunks do not pile up in memory.
  private static final int READ_AHEAD = 2;

  private final TaskPlan plan;
  private final Executor io;
  private final Conductor conductor;
  private final Runnable onReady;
  // A read input: its bytes, or the exception that reading it threw.
  private final Map<Integer, Object> ready = new HashMap<>();
  private final Set<Integer> reading = new HashSet<>();
  private boolean released;

  /**
   * @param io where files are read; null when the plan reads none
   * @param onReady runs on the conductor when an input has been read
   */
  private TaskInputs(TaskPlan plan, Executor io, Conductor conductor, Runnable onReady) {
    this.plan = plan;
    this.io = io;
    this.conductor = conductor;
    this.onReady = onReady;
  }

  /** Inputs for {@code plan}: read ahead on {@code io} when the plan reads files. */
  static TaskInputs of(TaskPlan plan, Executor io, Conductor conductor, Runnable onReady) {
    return new TaskInputs(plan, plan.readsFiles() ? io : null, conductor, onReady);
  }

  /** True when task {@code task}'s input can be taken now; else its read is under way. */
  boolean isReady(int task) {
    if (io == null || ready.containsKey(task)) {
      return true;
    }
    prefetch(task);
    return false;
  }

  /** Starts reading task {@code task}'s input if there is room ahead; it is not awaited. */
  void prefetch(int task) {
    if (io == null
        || released
        || task < 0
        || task >= plan.taskCount()
        || ready.containsKey(task)
        || reading.contains(task)
        || ready.size() + reading.size() >= READ_AHEAD) {
      return;
    }
    reading.add(task);
    io.execute(
        () -> {
          Object input;
          try {
            input = plan.input(task);
          } catch (IOException | RuntimeException e) {
            input = e;
          }
          Object read = input;
          conductor.post(() -> arrived(task, read));
        });
  }

  private void arrived(int task, Object input) {
    reading.remove(task);
    if (released) {
      return;
    }
    ready.put(task, input);
    onReady.run();
  }

  /** Task {@code task}'s input; once {@link #isReady} said so for a plan that reads files. */
  ByteString take(int task) throws IOException {
    if (io == null) {
      return plan.input(task);
    }
    Object input = ready.remove(task);
    return switch (input) {
      case ByteString bytes -> bytes;
      case IOException e -> throw new IOException(e.getMessage(), e);
      case RuntimeException e -> throw e;
      case null ->
          throw new UncheckedIOException(
              new IOException("input of task " + task + " was not read"));
      default -> throw new IllegalStateException("unexpected input " + input.getClass());
    };
  }

  /** The job ended: inputs read ahead are dropped, and reads under way are not kept. */
  void release() {
    released = true;
    ready.clear();
  }
}
