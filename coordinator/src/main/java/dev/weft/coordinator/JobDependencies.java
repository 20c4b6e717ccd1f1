package dev.weft.coordinator;

import dev.weft.v1.Dependency;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Jobs that wait for others to end before any of their tasks runs ({@code JobSpec.after}): which
 * jobs wait for which, and what a job's dependencies allow now. Conductor thread only.
 *
 * <p>A job may name only jobs that exist when it is submitted, and job ids are made by the
 * coordinator: a job can never name one submitted after it, so dependencies form no cycle.
 */
final class JobDependencies {

  /** What a job's dependencies allow now. */
  sealed interface Verdict {}

  /** Every job it names has ended as it asked: it may run. */
  record Ready() implements Verdict {}

  /**
   * Some of the jobs it names have not ended; {@code reason} says which, as {@code weft status}
   * shows it after "waiting": "until job ja succeeds", "until jobs ja, jb succeed and job jc ends".
   */
  record Waiting(List<String> pending, String reason) implements Verdict {}

  /** A job it names (as {@code :ok}) ended otherwise than SUCCEEDED: it fails, saying why. */
  record Failed(String reason) implements Verdict {}

  /** A job waiting for others, and the verdict one of them ending gave it. */
  record Judged(JobRun job, Verdict verdict) {}

  // By the id of a job not ended yet: the jobs waiting for it (a set: they leave it as they end).
  private final Map<String, Set<JobRun>> waiters = new HashMap<>();
  private final Function<String, JobRun> jobs;

  /**
   * @param jobs the job of an id, or null for one the coordinator does not know (any more)
   */
  JobDependencies(Function<String, JobRun> jobs) {
    this.jobs = jobs;
  }

  /**
   * Refuses (INVALID_ARGUMENT) a new job naming a job this coordinator does not know: neither
   * unfinished nor kept among the finished.
   */
  void checkKnown(JobSpec spec) {
    for (Dependency dependency : spec.getAfterList()) {
      String id = dependency.getJobId();
      if (jobs.apply(id) == null) {
        throw Status.INVALID_ARGUMENT
            .withDescription(
                "after: unknown job id "
                    + id
                    + " in --after "
                    + flag(dependency)
                    + " (no job of that id is unfinished or kept among the finished; a job can"
                    + " wait only for jobs submitted before it)")
            .asRuntimeException();
      }
    }
  }

  /**
   * What the dependencies of {@code spec} allow now. A job no longer known counts as ended in an
   * unknown state (it was forgotten past its retention while the coordinator was down): enough for
   * {@code :any}, not for {@code :ok}.
   */
  Verdict judge(JobSpec spec) {
    List<String> pending = new ArrayList<>();
    List<String> toSucceed = new ArrayList<>();
    List<String> toEnd = new ArrayList<>();
    for (Dependency dependency : spec.getAfterList()) {
      String id = dependency.getJobId();
      JobRun job = jobs.apply(id);
      if (job == null) {
        if (!dependency.getAny()) {
          return new Failed(
              "job "
                  + id
                  + " it depends on (--after "
                  + flag(dependency)
                  + ") is no longer known (forgotten after its retention), so whether it"
                  + " succeeded is unknown");
        }
        continue;
      }
      if (!job.isFinished()) {
        pending.add(id);
        (dependency.getAny() ? toEnd : toSucceed).add(id);
        continue;
      }
      if (!dependency.getAny() && job.state() != JobState.SUCCEEDED) {
        String error = job.toProto().getError();
        return new Failed(
            ResultBudget.error(
                "job "
                    + id
                    + " it depends on (--after "
                    + flag(dependency)
                    + ") ended "
                    + job.state().name()
                    + (error.isEmpty() ? "" : ": " + error)));
      }
    }
    if (pending.isEmpty()) {
      return new Ready();
    }
    List<String> parts = new ArrayList<>();
    if (!toSucceed.isEmpty()) {
      parts.add(named(toSucceed) + (toSucceed.size() == 1 ? " succeeds" : " succeed"));
    }
    if (!toEnd.isEmpty()) {
      parts.add(named(toEnd) + (toEnd.size() == 1 ? " ends" : " end"));
    }
    return new Waiting(List.copyOf(pending), "until " + String.join(" and ", parts));
  }

  private static String named(List<String> ids) {
    return (ids.size() == 1 ? "job " : "jobs ") + String.join(", ", ids);
  }

  /**
   * {@code job} waits for the jobs in {@code pending} (judged so); each one's end judges it again.
   */
  void await(JobRun job, Waiting waiting) {
    for (String id : waiting.pending()) {
      waiters.computeIfAbsent(id, key -> new LinkedHashSet<>()).add(job);
    }
  }

  /**
   * Job {@code id} has ended: the jobs that waited for it, each judged again now (while the ended
   * job is surely still known).
   */
  List<Judged> ended(String id) {
    Set<JobRun> waiting = waiters.remove(id);
    if (waiting == null) {
      return List.of();
    }
    List<Judged> judged = new ArrayList<>(waiting.size());
    for (JobRun job : waiting) {
      if (job.isWaiting()) {
        judged.add(new Judged(job, judge(job.spec())));
      }
    }
    return judged;
  }

  /** A job ended, whatever ended it: it waits for nothing any more. */
  void forget(JobRun job) {
    for (Dependency dependency : job.spec().getAfterList()) {
      Set<JobRun> waiting = waiters.get(dependency.getJobId());
      if (waiting != null && waiting.remove(job) && waiting.isEmpty()) {
        waiters.remove(dependency.getJobId());
      }
    }
  }

  /** How the dependency is written on the command line. */
  private static String flag(Dependency dependency) {
    return dependency.getJobId() + (dependency.getAny() ? ":any" : "");
  }
}
