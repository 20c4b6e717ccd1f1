package dev.weft.kinds;

import java.util.List;

/**
 * What a task asked of its worker and was given: the worker bounds an exec task's cgroup by the CPU
 * and memory (where it can make task cgroups) and shows it only its GPUs.
 *
 * @param cpuMillis thousandths of a CPU; 0 for no bound
 * @param memBytes bytes of memory; 0 for no bound
 * @param gpus the worker's GPUs given to the task, by index
 */
public record TaskResources(long cpuMillis, long memBytes, List<Integer> gpus) {
  /** A task that asked for nothing. */
  public static final TaskResources NONE = new TaskResources(0, 0, List.of());

  public TaskResources {
    if (cpuMillis < 0 || memBytes < 0) {
      throw new IllegalArgumentException(
          "resources must not be negative (cpuMillis "
              + cpuMillis
              + ", memBytes "
              + memBytes
              + ")");
    }
    gpus = List.copyOf(gpus);
    for (int gpu : gpus) {
      if (gpu < 0) {
        throw new IllegalArgumentException("GPU indices must not be negative (got " + gpus + ")");
      }
    }
  }
}
