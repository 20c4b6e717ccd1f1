package dev.weft.coordinator;

import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.JobSpec;
import io.grpc.Status;

/**
 * Checks and plans a submitted job on the caller's thread (planning may read files: a hash job
 * sizes its file), so the conductor only registers what is already known to be sound.
 */
final class JobIntake {

  /** A job ready to register: its spec, its kind and how it splits. */
  record Planned(JobSpec spec, JobKind kind, TaskPlan plan) {}

  private final JobKinds kinds;
  private final int maxTasksPerJob;
  private final ReadableRoots readableRoots;

  JobIntake(JobKinds kinds, int maxTasksPerJob, ReadableRoots readableRoots) {
    this.kinds = kinds;
    this.maxTasksPerJob = maxTasksPerJob;
    this.readableRoots = readableRoots;
  }

  /**
   * The planned job, or INVALID_ARGUMENT naming the bad field (FAILED_PRECONDITION for a hash job
   * on a coordinator with no readable root). Whoever takes the plan closes it.
   */
  Planned plan(JobSpec spec) {
    JobKind kind;
    TaskPlan plan;
    try {
      JobSpecRules.check(spec);
      kind = kinds.kindOf(spec);
      plan = kind.plan(readableRoots.confine(spec));
    } catch (InvalidJobException e) {
      throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
    }
    if (plan.taskCount() > maxTasksPerJob) {
      plan.close();
      throw Status.INVALID_ARGUMENT
          .withDescription(
              "tasks: the job splits into "
                  + plan.taskCount()
                  + " tasks; this coordinator allows 1.."
                  + maxTasksPerJob)
          .asRuntimeException();
    }
    return new Planned(spec, kind, plan);
  }
}
