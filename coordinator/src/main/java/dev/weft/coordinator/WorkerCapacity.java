package dev.weft.coordinator;

import dev.weft.v1.Hello;
import dev.weft.v1.Resources;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * What one worker has to share among its tasks (as its hello advertised) and what its running tasks
 * hold of it. GPUs are handed out by index, so two tasks never share one. Conductor thread only.
 */
final class WorkerCapacity {
  private final long cpuMillis;
  private final long memBytes;
  private final int gpus;
  private final Map<String, Long> custom;
  private final Map<String, String> labels;
  private long cpuUsed;
  private long memUsed;
  private final BitSet gpusUsed = new BitSet();
  private final Map<String, Long> customUsed = new HashMap<>();

  WorkerCapacity(Hello hello) {
    Resources r = hello.getResources();
    // A worker that advertises nothing (an older one) has a CPU per slot and memory unbounded.
    this.cpuMillis = r.getCpuMillis() > 0 ? r.getCpuMillis() : 1000L * hello.getSlots();
    this.memBytes = r.getMemBytes() > 0 ? r.getMemBytes() : Long.MAX_VALUE;
    this.gpus = Math.max(0, r.getGpus());
    this.custom = Map.copyOf(r.getCustomMap());
    this.labels = Map.copyOf(hello.getLabelsMap());
  }

  Map<String, String> labels() {
    return labels;
  }

  /** True when the worker could run such a task at all, were it idle. */
  boolean couldFit(TaskNeeds needs) {
    if (!needs.labelsMatch(labels)) {
      return false;
    }
    if (needs.cpuMillis() > cpuMillis || needs.memBytes() > memBytes || needs.gpus() > gpus) {
      return false;
    }
    for (Map.Entry<String, Long> need : needs.custom().entrySet()) {
      if (need.getValue() > custom.getOrDefault(need.getKey(), 0L)) {
        return false;
      }
    }
    return true;
  }

  /** True when such a task fits in what the running tasks leave free now. */
  boolean fitsNow(TaskNeeds needs) {
    if (!needs.holdsResources()) {
      return needs.labelsMatch(labels);
    }
    if (!needs.labelsMatch(labels)
        || needs.cpuMillis() > cpuMillis - cpuUsed
        || needs.memBytes() > memBytes - memUsed
        || needs.gpus() > gpus - gpusUsed.cardinality()) {
      return false;
    }
    for (Map.Entry<String, Long> need : needs.custom().entrySet()) {
      long free =
          custom.getOrDefault(need.getKey(), 0L) - customUsed.getOrDefault(need.getKey(), 0L);
      if (need.getValue() > free) {
        return false;
      }
    }
    return true;
  }

  /** Takes what a task needs (it fits now); returns the GPU indices it gets. */
  int[] take(TaskNeeds needs) {
    if (!needs.holdsResources()) {
      return NO_GPUS;
    }
    cpuUsed += needs.cpuMillis();
    memUsed += needs.memBytes();
    needs.custom().forEach((name, amount) -> customUsed.merge(name, amount, Long::sum));
    if (needs.gpus() == 0) {
      return NO_GPUS;
    }
    int[] given = new int[needs.gpus()];
    int index = 0;
    for (int i = 0; i < given.length; i++) {
      index = gpusUsed.nextClearBit(index);
      given[i] = index;
      gpusUsed.set(index);
    }
    return given;
  }

  /** Gives back what a task took. */
  void give(TaskNeeds needs, int[] gpusGiven) {
    if (!needs.holdsResources()) {
      return;
    }
    cpuUsed -= needs.cpuMillis();
    memUsed -= needs.memBytes();
    needs.custom().forEach((name, amount) -> customUsed.merge(name, -amount, Long::sum));
    for (int gpu : gpusGiven) {
      gpusUsed.clear(gpu);
    }
  }

  Resources total() {
    return Resources.newBuilder()
        .setCpuMillis(cpuMillis)
        .setMemBytes(memBytes == Long.MAX_VALUE ? 0 : memBytes)
        .setGpus(gpus)
        .putAllCustom(custom)
        .build();
  }

  Resources free() {
    Resources.Builder free =
        Resources.newBuilder()
            .setCpuMillis(cpuMillis - cpuUsed)
            .setMemBytes(memBytes == Long.MAX_VALUE ? 0 : memBytes - memUsed)
            .setGpus(gpus - gpusUsed.cardinality());
    custom.forEach(
        (name, amount) -> free.putCustom(name, amount - customUsed.getOrDefault(name, 0L)));
    return free.build();
  }

  /** The largest amounts, for saying why a task fits nowhere. */
  long cpuMillis() {
    return cpuMillis;
  }

  long memBytes() {
    return memBytes;
  }

  int gpus() {
    return gpus;
  }

  long custom(String name) {
    return custom.getOrDefault(name, 0L);
  }

  private static final int[] NO_GPUS = new int[0];
}
