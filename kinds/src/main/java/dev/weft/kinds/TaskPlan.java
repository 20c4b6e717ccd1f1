package dev.weft.kinds;

import com.google.protobuf.ByteString;
import java.io.IOException;

/** The tasks a job splits into; inputs are made on demand so a large job costs little memory. */
public interface TaskPlan extends AutoCloseable {

  /** How many tasks the job has; at least one. */
  int taskCount();

  /**
   * The input of task {@code task} (0-based), as the kind's {@link JobKind#run} expects it. Called
   * each time the task is dispatched, so it may be called more than once for the same task.
   *
   * @throws IOException when the input cannot be read (the {@code hash} kind reads a file)
   */
  ByteString input(int task) throws IOException;

  /**
   * True when {@link #input} reads files: the coordinator then reads inputs ahead on a thread of
   * their own, never on the thread that owns its state.
   */
  default boolean readsFiles() {
    return false;
  }

  /**
   * Lets go of what the plan holds (the {@code hash} kind keeps its file open). The coordinator
   * calls it once the job has ended, or when the job is not taken after all; later calls do
   * nothing.
   */
  @Override
  default void close() {}

  /** A short description of task {@code task}'s input for people ("[1, 10000000]", "file.txt"). */
  default String describe(int task) {
    return "task " + task;
  }
}
