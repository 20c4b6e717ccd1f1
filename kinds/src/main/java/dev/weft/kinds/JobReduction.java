package dev.weft.kinds;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobResult;

/**
 * Folds task outputs into a job's result. The coordinator calls {@link #add} exactly once per task,
 * in any order, from one thread at a time; then {@link #result} once every task succeeded.
 */
public interface JobReduction {

  /**
   * Folds in the output of task {@code task}.
   *
   * @throws InvalidTaskOutputException when the output cannot be parsed; the task is failed
   */
  void add(int task, ByteString output) throws InvalidTaskOutputException;

  /** The job's result; called once, after every task was added. */
  JobResult result();
}
