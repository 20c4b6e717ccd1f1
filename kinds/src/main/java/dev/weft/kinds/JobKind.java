package dev.weft.kinds;

import com.google.protobuf.ByteString;
import dev.weft.v1.JobSpec;

/**
 * One kind of job: how the coordinator splits it into tasks, how a worker runs one task, and how
 * the coordinator folds task outputs into the job's result.
 *
 * <p>Implementations are found with {@link java.util.ServiceLoader} (see {@link JobKinds}), so a
 * plugin jar on the class path of the coordinator and the workers can add kinds. They must be
 * stateless and thread-safe: one instance serves every job of its kind.
 *
 * <p>Tasks must be idempotent: a task may run more than once (retry, worker death); the coordinator
 * counts the first result of each task only.
 */
public interface JobKind {

  /** The kind's name as users type it ({@code sum}, {@code exec}, or a plugin's name). */
  String name();

  /**
   * Validates {@code spec} and splits it into tasks. Runs on the coordinator at submit time, so it
   * must be cheap: inputs are produced lazily by the returned plan.
   *
   * @throws InvalidJobException naming the bad field and what is allowed
   */
  TaskPlan plan(JobSpec spec) throws InvalidJobException;

  /**
   * Runs one task on a worker and returns its output. Long-running work checks {@code context} for
   * cancellation and honours thread interruption.
   *
   * @throws TaskFailedException when the task itself failed (bad input, non-zero exit): such
   *     failures are not retried unless the job asks for it
   * @throws InterruptedException when cancelled; a {@link TaskCancelledException} when the kind can
   *     say how its work stopped (an exec task's process group exited on SIGTERM or was killed), a
   *     plain one meaning it just stopped
   */
  ByteString run(ByteString input, TaskContext context) throws Exception;

  /**
   * True when every task of this kind is so cheap (no blocking, no I/O, no long loop) that handing
   * it to another thread would cost more than running it: a worker may then run it on the thread
   * that read it from the link, when a slot is free. Such a run is not interrupted on cancel (the
   * thread belongs to the link), so a kind that says true must finish promptly on its own.
   */
  default boolean inlineCheap() {
    return false;
  }

  /** Starts folding the outputs of a job's tasks into its result. Runs on the coordinator. */
  JobReduction reduction(JobSpec spec, TaskPlan plan);
}
