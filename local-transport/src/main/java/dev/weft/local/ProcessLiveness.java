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
    return verified(pid, expectedStartMs).isPresent();
  }

  /**
   * The process with this pid if it runs and started at the expected time. Its {@link
   * ProcessHandle#isAlive()} is then a cheap check that this same process still runs (it reads one
   * /proc file and compares the start time, so a reused pid reads as dead), whereas the start time
   * in epoch millis comes from {@link ProcessHandle#info()}, which reads a dozen files, /etc/passwd
   * among them: too much for a heartbeat.
   */
  static Optional<ProcessHandle> verified(long pid, long expectedStartMs) {
    if (pid <= 0) {
      return Optional.empty();
    }
    Optional<ProcessHandle> process = ProcessHandle.of(pid);
    if (process.isEmpty() || !process.get().isAlive()) {
      return Optional.empty();
    }
    long startMs = startTimeMs(process.get());
    boolean same =
        expectedStartMs == 0
            || startMs == 0
            || Math.abs(startMs - expectedStartMs) <= START_TIME_TOLERANCE_MS;
    return same ? process : Optional.empty();
  }
}
