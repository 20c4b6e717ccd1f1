package dev.weft.coordinator;

import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import dev.weft.kinds.InvalidJobException;
import dev.weft.v1.JobSpec;

/** The rules every job spec obeys whatever its kind; kinds check their own parameters. */
final class JobSpecRules {
  static final int MAX_ATTEMPTS = 100;
  static final long MAX_TIMEOUT_SECONDS = 30L * 24 * 3600;
  static final long MAX_GRACE_SECONDS = 3600;
  static final int MAX_NAME_CHARS = 200;
  static final int MAX_WORKERS = 1_000;

  private JobSpecRules() {}

  static void check(JobSpec spec) throws InvalidJobException {
    if (spec.getMaxAttempts() < 0 || spec.getMaxAttempts() > MAX_ATTEMPTS) {
      throw new InvalidJobException(
          "max_attempts",
          "must be 1.." + MAX_ATTEMPTS + " (0 means the default, 3), got " + spec.getMaxAttempts());
    }
    if (spec.hasTimeout()) {
      checkDuration("timeout", spec.getTimeout(), MAX_TIMEOUT_SECONDS, false);
    }
    if (spec.hasGrace()) {
      checkDuration("grace", spec.getGrace(), MAX_GRACE_SECONDS, true);
    }
    if (spec.getWorkersCount() > MAX_WORKERS) {
      throw new InvalidJobException(
          "workers", "at most " + MAX_WORKERS + " worker ids, got " + spec.getWorkersCount());
    }
    for (String worker : spec.getWorkersList()) {
      if (worker.isBlank() || worker.length() > WorkerAdapter.MAX_WORKER_ID_CHARS) {
        throw new InvalidJobException(
            "workers",
            "worker ids are 1.."
                + WorkerAdapter.MAX_WORKER_ID_CHARS
                + " characters, not blank (got '"
                + worker
                + "')");
      }
    }
    if (spec.getName().length() > MAX_NAME_CHARS) {
      throw new InvalidJobException(
          "name",
          "must be at most " + MAX_NAME_CHARS + " characters, got " + spec.getName().length());
    }
  }

  /** The grace of a CancelJob request: unset keeps the job's own (-1 here). */
  /** The job's grace between SIGTERM and SIGKILL: its own, else the coordinator's default. */
  static long graceMs(JobSpec spec, long defaultGraceMs) {
    return spec.hasGrace() ? Durations.toMillis(spec.getGrace()) : defaultGraceMs;
  }

  static long cancelGraceMs(dev.weft.v1.CancelJobRequest request) throws InvalidJobException {
    if (!request.hasGrace()) {
      return -1;
    }
    checkDuration("grace", request.getGrace(), MAX_GRACE_SECONDS, true);
    return Durations.toMillis(request.getGrace());
  }

  private static void checkDuration(String field, Duration value, long maxSeconds, boolean zeroOk)
      throws InvalidJobException {
    if (!Durations.isValid(value)) {
      throw new InvalidJobException(field, "is not a valid duration");
    }
    boolean tooSmall = zeroOk ? Durations.isNegative(value) : !Durations.isPositive(value);
    if (tooSmall || value.getSeconds() > maxSeconds) {
      throw new InvalidJobException(
          field,
          "must be "
              + (zeroOk ? "0s" : "more than 0s")
              + " .. "
              + maxSeconds
              + "s, got "
              + Durations.toString(value));
    }
  }
}
