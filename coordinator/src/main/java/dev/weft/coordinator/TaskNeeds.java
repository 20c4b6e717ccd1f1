package dev.weft.coordinator;

import dev.weft.v1.JobSpec;
import dev.weft.v1.LabelRequirement;
import dev.weft.v1.Resources;
import java.util.List;
import java.util.Map;

/**
 * What each task of a job needs of the worker it runs on: amounts of resources and labels. A job
 * that asks for nothing fits wherever its kind runs, and only slots bound how many of its tasks a
 * worker takes.
 */
record TaskNeeds(
    long cpuMillis,
    long memBytes,
    int gpus,
    Map<String, Long> custom,
    List<LabelRequirement> labels) {

  static final TaskNeeds NONE = new TaskNeeds(0, 0, 0, Map.of(), List.of());

  static TaskNeeds of(JobSpec spec) {
    Resources r = spec.getResources();
    if (!spec.hasResources() && spec.getRequiresCount() == 0) {
      return NONE;
    }
    return new TaskNeeds(
        r.getCpuMillis(),
        r.getMemBytes(),
        r.getGpus(),
        Map.copyOf(r.getCustomMap()),
        List.copyOf(spec.getRequiresList()));
  }

  /** True when tasks hold amounts of the worker's resources while they run. */
  boolean holdsResources() {
    return cpuMillis > 0 || memBytes > 0 || gpus > 0 || !custom.isEmpty();
  }

  boolean isNone() {
    return !holdsResources() && labels.isEmpty();
  }

  /** True when a worker with these labels may run the tasks. */
  boolean labelsMatch(Map<String, String> workerLabels) {
    for (LabelRequirement need : labels) {
      boolean equal = need.getValue().equals(workerLabels.get(need.getKey()));
      if (equal == need.getNotEqual()) {
        return false;
      }
    }
    return true;
  }

  /** The labels asked for, as the user wrote them. */
  String describeLabels() {
    StringBuilder out = new StringBuilder();
    for (LabelRequirement need : labels) {
      if (!out.isEmpty()) {
        out.append(',');
      }
      out.append(need.getKey()).append(need.getNotEqual() ? "!=" : "=").append(need.getValue());
    }
    return out.toString();
  }

  /** The amounts asked for, as {@code cpu=2,mem=2.0 GiB,gpu=1,NAME=N}. */
  String describeAmounts() {
    StringBuilder out = new StringBuilder();
    if (cpuMillis > 0) {
      out.append("cpu=").append(cpus(cpuMillis));
    }
    if (memBytes > 0) {
      append(out, "mem=" + bytes(memBytes));
    }
    if (gpus > 0) {
      append(out, "gpu=" + gpus);
    }
    custom.forEach((name, amount) -> append(out, name + "=" + amount));
    return out.toString();
  }

  private static void append(StringBuilder out, String part) {
    if (!out.isEmpty()) {
      out.append(',');
    }
    out.append(part);
  }

  static String cpus(long millis) {
    return millis % 1000 == 0 ? Long.toString(millis / 1000) : String.valueOf(millis / 1000.0);
  }

  static String bytes(long bytes) {
    if (bytes >= 1L << 30) {
      return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
    if (bytes >= 1L << 20) {
      return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }
    return bytes + " B";
  }
}
