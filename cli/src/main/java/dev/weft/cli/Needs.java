package dev.weft.cli;

import dev.weft.v1.JobSpec;
import dev.weft.v1.LabelRequirement;
import dev.weft.v1.Resources;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Resources and labels in the words the options use: {@code cpu=2 mem=2.0G gpu=1 zone=b}. */
final class Needs {
  private Needs() {}

  /** What each task of the job asks of its worker; empty when it asks nothing. */
  static String describe(JobSpec spec) {
    List<String> parts = new ArrayList<>(amounts(spec.getResources(), false));
    for (LabelRequirement need : spec.getRequiresList()) {
      parts.add(need.getKey() + (need.getNotEqual() ? "!=" : "=") + need.getValue());
    }
    return String.join(" ", parts);
  }

  /** The non-zero amounts, or every one of the standard three when {@code all}. */
  static List<String> amounts(Resources r, boolean all) {
    List<String> parts = new ArrayList<>();
    if (all || r.getCpuMillis() > 0) {
      parts.add("cpu=" + cpus(r.getCpuMillis()));
    }
    if (all || r.getMemBytes() > 0) {
      parts.add("mem=" + bytes(r.getMemBytes()));
    }
    if (all || r.getGpus() > 0) {
      parts.add("gpu=" + r.getGpus());
    }
    for (Map.Entry<String, Long> custom : r.getCustomMap().entrySet()) {
      parts.add(custom.getKey() + "=" + custom.getValue());
    }
    return parts;
  }

  static String cpus(long millis) {
    return millis % 1000 == 0 ? Long.toString(millis / 1000) : String.valueOf(millis / 1000.0);
  }

  static String bytes(long bytes) {
    if (bytes >= 1L << 30) {
      return String.format(Locale.ROOT, "%.1fG", bytes / (double) (1L << 30));
    }
    if (bytes >= 1L << 20) {
      return String.format(Locale.ROOT, "%.1fM", bytes / (double) (1L << 20));
    }
    if (bytes >= 1L << 10) {
      return String.format(Locale.ROOT, "%.1fK", bytes / (double) (1L << 10));
    }
    return Long.toString(bytes);
  }
}
