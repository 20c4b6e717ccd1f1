package dev.weft.client;

import dev.weft.v1.ExecOutcome;
import dev.weft.v1.Job;
import dev.weft.v1.JobResult;
import dev.weft.v1.TaskFailure;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The job ended FAILED: {@link #job()} is its final state, {@link #failures()} its failed attempts;
 * for an exec job, {@link #exitCode()} and {@link #stderr()} tell of the first task that failed.
 */
public final class JobFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Job job;

  JobFailedException(Job job) {
    super(describe(job));
    this.job = job;
  }

  private static String describe(Job job) {
    String detail = job.getError().isEmpty() ? "failed" : job.getError();
    List<ExecOutcome> failed = failedTasks(job);
    if (!failed.isEmpty() && job.getError().isEmpty()) {
      ExecOutcome first = failed.getFirst();
      String stderr = first.getStderrTail().strip();
      detail +=
          " (task "
              + first.getTask()
              + " exited "
              + first.getExitCode()
              + (stderr.isEmpty() ? "" : ": " + stderr)
              + ")";
    }
    return "job " + job.getId() + " failed: " + detail;
  }

  private static List<ExecOutcome> failedTasks(Job job) {
    if (job.getResult().getValueCase() != JobResult.ValueCase.EXEC) {
      return List.of();
    }
    return job.getResult().getExec().getTasksList().stream()
        .filter(t -> t.getExitCode() != 0)
        .toList();
  }

  /** The job as it ended. */
  public Job job() {
    return job;
  }

  /** Its failed attempts, retried or not, in order (the coordinator keeps the first 100). */
  public List<TaskFailure> failures() {
    return job.getFailuresList();
  }

  /** The outcomes of the exec tasks that exited non-zero (empty for other kinds). */
  public List<ExecOutcome> failedTasks() {
    return failedTasks(job);
  }

  /** The exit code of the first exec task that failed, if one exited. */
  public OptionalInt exitCode() {
    List<ExecOutcome> failed = failedTasks(job);
    if (!failed.isEmpty()) {
      return OptionalInt.of(failed.getFirst().getExitCode());
    }
    return job.getFailuresList().stream()
        .filter(TaskFailure::hasExitCode)
        .mapToInt(TaskFailure::getExitCode)
        .findFirst();
  }

  /** The end of the standard error of the first exec task that failed. */
  public Optional<String> stderr() {
    List<ExecOutcome> failed = failedTasks(job);
    return failed.isEmpty() ? Optional.empty() : Optional.of(failed.getFirst().getStderrTail());
  }
}
