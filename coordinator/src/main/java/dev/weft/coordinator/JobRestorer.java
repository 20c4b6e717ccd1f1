package dev.weft.coordinator;

import com.google.protobuf.util.Timestamps;
import dev.weft.kinds.InvalidJobException;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskPlan;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import io.grpc.StatusRuntimeException;
import java.util.function.Consumer;

/**
 * Turns the jobs a journal kept across a restart back into {@link JobRun}s: a finished one frozen
 * as it ended, an unfinished one planned again from its spec with its recorded results folded in. A
 * job that can no longer be planned as it was (its input changed, its kind is gone) fails, saying
 * why: a hash job whose file is no longer under a readable root (or now in the data dir) too.
 * Planning may read files (hash), so this runs outside the scheduler's lock.
 */
final class JobRestorer {
  private final JobKinds kinds;
  private final ReadableRoots readableRoots;
  private final long defaultGraceMs;
  private final long maxResultBytes;
  private final Journal journal;
  private final CoreClock clock;
  private final RetryTimers retryTimers;
  private final TaskCounts counts;
  private final java.util.function.Function<TaskPlan, TaskInputs> inputs;
  private final Consumer<JobRun> onFinish;

  JobRestorer(
      JobKinds kinds,
      ReadableRoots readableRoots,
      long defaultGraceMs,
      long maxResultBytes,
      Journal journal,
      CoreClock clock,
      RetryTimers retryTimers,
      TaskCounts counts,
      java.util.function.Function<TaskPlan, TaskInputs> inputs,
      Consumer<JobRun> onFinish) {
    this.kinds = kinds;
    this.readableRoots = readableRoots;
    this.defaultGraceMs = defaultGraceMs;
    this.maxResultBytes = maxResultBytes;
    this.journal = journal;
    this.clock = clock;
    this.retryTimers = retryTimers;
    this.counts = counts;
    this.inputs = inputs;
    this.onFinish = onFinish;
  }

  /** The job as it was: frozen if it had finished, else rebuilt from its spec and results. */
  JobRun rebuild(Journal.SavedJob saved) {
    JobWatchers watchers = new JobWatchers();
    if (saved.isFinished()) {
      return JobRun.ofFinished(saved.finished(), watchers);
    }
    JobSpec spec = saved.spec();
    String problem;
    try {
      JobKind kind = kinds.kindOf(spec);
      // Checked again as at submit: the roots may have changed, or the file moved, since.
      TaskPlan plan = kind.plan(readableRoots.confine(spec));
      if (plan.taskCount() == saved.tasks()) {
        JobRun run =
            new JobRun(
                saved.id(),
                spec,
                kind,
                plan,
                JobSpecRules.graceMs(spec, defaultGraceMs),
                watchers,
                saved.createdMs(),
                maxResultBytes,
                journal,
                clock,
                retryTimers,
                counts,
                inputs,
                onFinish);
        run.restore(saved);
        return run;
      }
      plan.close();
      problem =
          "it now splits into "
              + plan.taskCount()
              + " tasks instead of "
              + saved.tasks()
              + " (did its input change?)";
    } catch (StatusRuntimeException e) {
      problem = e.getStatus().getDescription();
    } catch (InvalidJobException | RuntimeException e) {
      problem = e.getMessage();
    }
    Job failed =
        Job.newBuilder()
            .setId(saved.id())
            .setKind(JobKinds.kindName(spec))
            .setSpec(spec)
            .setState(JobState.FAILED)
            .setTasksTotal(saved.tasks())
            .setCreated(Timestamps.fromMillis(saved.createdMs()))
            .setFinished(Timestamps.fromMillis(clock.epochMs()))
            .setError("cannot resume after a coordinator restart: " + problem)
            .build();
    journal.finished(failed);
    return JobRun.ofFinished(failed, watchers);
  }
}
