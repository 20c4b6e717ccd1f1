package dev.weft.coordinator;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Says, in words a user can act on, why a job's tasks cannot be placed: no worker runs its kind,
 * none carries its labels, none is large enough, or all that could are busy. Asked by GetJob and at
 * a strict submission, never on the dispatch path. Conductor thread only.
 */
final class Placement {
  private Placement() {}

  /**
   * Why no attached worker could ever run tasks of this kind with these needs, even idle; null when
   * one could.
   */
  static String nowhere(
      String kind, List<String> named, TaskNeeds needs, Collection<AttachedWorker> workers) {
    if (workers.isEmpty()) {
      return "no worker is attached";
    }
    boolean kindRuns = false;
    boolean allowed = false;
    boolean labelled = false;
    long cpu = 0;
    long mem = 0;
    int gpus = 0;
    for (AttachedWorker worker : workers) {
      if (!worker.runs(kind)) {
        continue;
      }
      kindRuns = true;
      if (!named.isEmpty() && !named.contains(worker.id())) {
        continue;
      }
      allowed = true;
      WorkerCapacity capacity = worker.capacity();
      if (!needs.labelsMatch(capacity.labels())) {
        continue;
      }
      labelled = true;
      if (capacity.couldFit(needs)) {
        return null;
      }
      cpu = Math.max(cpu, capacity.cpuMillis());
      mem = Math.max(mem, capacity.memBytes());
      gpus = Math.max(gpus, capacity.gpus());
    }
    if (!kindRuns) {
      return "no attached worker runs kind '" + kind + "'";
    }
    if (!allowed) {
      return "none of the workers the job names (" + String.join(", ", named) + ") is attached";
    }
    if (!labelled) {
      return "no attached worker has the labels " + needs.describeLabels();
    }
    return "no attached worker is large enough for a task asking "
        + needs.describeAmounts()
        + " (the largest have cpu="
        + TaskNeeds.cpus(cpu)
        + (mem == Long.MAX_VALUE ? "" : ", mem=" + TaskNeeds.bytes(mem))
        + ", gpu="
        + gpus
        + customLargest(needs, workers)
        + ")";
  }

  private static String customLargest(TaskNeeds needs, Collection<AttachedWorker> workers) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<String, Long> need : needs.custom().entrySet()) {
      long largest = 0;
      for (AttachedWorker worker : workers) {
        largest = Math.max(largest, worker.capacity().custom(need.getKey()));
      }
      out.append(", ").append(need.getKey()).append('=').append(largest);
    }
    return out.toString();
  }

  /**
   * Why a job with pending tasks has none placed right now; empty when nothing stands in its way.
   */
  static String whyWaiting(JobRun job, Collection<AttachedWorker> workers) {
    String nowhere = nowhere(job.kindName(), job.spec().getWorkersList(), job.needs(), workers);
    if (nowhere != null) {
      return nowhere + "; its tasks wait until one attaches";
    }
    int fitting = 0;
    for (AttachedWorker worker : workers) {
      if (worker.runs(job.kindName())
          && job.mayRunOn(worker.id())
          && worker.capacity().couldFit(job.needs())) {
        fitting++;
        if (worker.credit() > 0 && worker.capacity().fitsNow(job.needs())) {
          return ""; // a slot is free for it: it is being dispatched
        }
      }
    }
    String busy =
        fitting == 1
            ? "the one worker it fits is busy"
            : "all " + fitting + " workers it fits are busy";
    return job.needs().holdsResources()
        ? busy + " (no free slot with " + job.needs().describeAmounts() + " free)"
        : busy;
  }
}
