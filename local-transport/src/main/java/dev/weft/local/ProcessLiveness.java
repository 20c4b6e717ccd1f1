package dev.weft.local;

import java.time.Instant;
import java.util.Optional;

/**
 * Whether a process recorded in a segment header still runs. A pid alone can be reused, so the
 * header keeps the process's start time too, and a process with that pid that started at another
 * time is someone else.
 */
final class ProcessLiveness {
  /**
   * How far two JVMs' views of one start time may differ: Java derives it from the boot time, which
   * moves with wall-clock adjustments.
   */
  private static final long START_TIME_TOLERANCE_MS = 2_000;

  private ProcessLiveness() {}

  /** Epoch millis when the process started, or 0 when the system will not say. */
  static long startTimeMs(ProcessHandle process) {
    return process.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
  }

  static boolean isAlive(long pid, long expectedStartMs) {
    if (pid <= 0) {
      return false;
    }
    Optional<ProcessHandle> process = ProcessHandle.of(pid);
    if (process.isEmpty() || !process.get().isAlive()) {
      return false;
    }
    long startMs = startTimeMs(process.get());
    return expectedStartMs == 0
        || startMs == 0
        || Math.abs(startMs - expectedStartMs) <= START_TIME_TOLERANCE_MS;
  }
}
