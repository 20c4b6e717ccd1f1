package dev.weft.kinds;

/** What a running task may ask of the worker that runs it. */
public interface TaskContext {

  /** True once the task has been cancelled; long loops check it between steps. */
  boolean isCancelled();

  /**
   * Registers an action to run when the task is cancelled (for example, signalling a child
   * process). Runs at once if the task is already cancelled.
   */
  void onCancel(Runnable action);

  /** How long a cancelled task gets to stop on its own before it is killed, in milliseconds. */
  long graceMs();

  /** What the task asked of its worker and was given; {@link TaskResources#NONE} when nothing. */
  default TaskResources resources() {
    return TaskResources.NONE;
  }

  /**
   * The task's process exited with {@code exitCode} (for kinds that run one): the worker reports it
   * with the task's result, however the task ended.
   */
  default void processExited(int exitCode) {}

  /**
   * Where to keep the whole of the task's output stream {@code stream} (for kinds that run a
   * process), beyond the tail in its result; {@link TaskLogSink#DISCARD} when the worker keeps no
   * logs. Never throws: a log that cannot be opened is reported by the worker and discards.
   */
  default TaskLogSink openLog(LogStream stream) {
    return TaskLogSink.DISCARD;
  }

  /** Throws {@link InterruptedException} if the task has been cancelled. */
  default void checkCancelled() throws InterruptedException {
    if (isCancelled() || Thread.currentThread().isInterrupted()) {
      throw new InterruptedException("task cancelled");
    }
  }
}
