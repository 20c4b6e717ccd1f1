package dev.weft.coordinator;

import com.google.protobuf.Duration;
import com.google.protobuf.util.Durations;
import dev.weft.kinds.InvalidJobException;
import dev.weft.v1.Dependency;
import dev.weft.v1.ExitCodeRange;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RetryPolicy;
import java.util.HashSet;
import java.util.Set;

/** The rules every job spec obeys whatever its kind; kinds check their own parameters. */
final class JobSpecRules {
  static final int MAX_ATTEMPTS = 100;
  static final long MAX_TIMEOUT_SECONDS = 30L * 24 * 3600;
  static final long MAX_GRACE_SECONDS = 3600;
  static final int MAX_NAME_CHARS = 200;
  static final int MAX_WORKERS = 1_000;
  static final long MAX_TASK_TIMEOUT_SECONDS = MAX_TIMEOUT_SECONDS;
  static final long MAX_RETRY_DELAY_SECONDS = 7L * 24 * 3600;
  static final double MAX_BACKOFF = 100;
  static final int MAX_EXIT_CODE = 255;
  static final int MAX_EXIT_CODE_RANGES = 256;
  static final int MAX_AFTER = 64;

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
    if (spec.hasTaskTimeout()) {
      checkTaskTimeout(spec.getTaskTimeout());
    }
    if (spec.hasRetry()) {
      checkRetry(spec.getRetry());
    }
    checkAfter(spec);
    if (spec.getName().length() > MAX_NAME_CHARS) {
      throw new InvalidJobException(
          "name",
          "must be at most " + MAX_NAME_CHARS + " characters, got " + spec.getName().length());
    }
    checkPlacement(spec);
  }

  static final int MAX_PRIORITY = 1_000_000;
  static final double MAX_WEIGHT = 1_000_000;
  static final long MAX_CPU_MILLIS = 1_000_000_000L;
  static final int MAX_GPUS = 1_024;
  static final int MAX_CUSTOM = 32;
  static final int MAX_REQUIRES = 64;
  static final int MAX_LABEL_VALUE_CHARS = 256;
  private static final java.util.regex.Pattern NAME =
      java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,62}");

  /** Priority, weight, resources and label requirements. */
  private static void checkPlacement(JobSpec spec) throws InvalidJobException {
    String priority = priorityProblem(spec.getPriority());
    if (priority != null) {
      throw new InvalidJobException("priority", priority);
    }
    double weight = spec.getWeight();
    if (!(weight >= 0 && weight <= MAX_WEIGHT)) {
      throw new InvalidJobException(
          "weight",
          "must be more than 0 and at most " + (long) MAX_WEIGHT + " (default 1), got " + weight);
    }
    dev.weft.v1.Resources r = spec.getResources();
    if (r.getCpuMillis() < 0 || r.getCpuMillis() > MAX_CPU_MILLIS) {
      throw new InvalidJobException(
          "resources.cpu_millis", "must be 0.." + MAX_CPU_MILLIS + ", got " + r.getCpuMillis());
    }
    if (r.getMemBytes() < 0) {
      throw new InvalidJobException(
          "resources.mem_bytes", "must not be negative, got " + r.getMemBytes());
    }
    if (r.getGpus() < 0 || r.getGpus() > MAX_GPUS) {
      throw new InvalidJobException(
          "resources.gpus", "must be 0.." + MAX_GPUS + ", got " + r.getGpus());
    }
    if (r.getCustomCount() > MAX_CUSTOM) {
      throw new InvalidJobException(
          "resources.custom", "at most " + MAX_CUSTOM + " names, got " + r.getCustomCount());
    }
    for (java.util.Map.Entry<String, Long> custom : r.getCustomMap().entrySet()) {
      if (!NAME.matcher(custom.getKey()).matches()
          || java.util.Set.of("cpu", "mem", "gpu").contains(custom.getKey())) {
        throw new InvalidJobException(
            "resources.custom",
            "names are 1..63 of [A-Za-z0-9._/-], starting with a letter or digit, other than cpu,"
                + " mem and gpu; got '"
                + custom.getKey()
                + "'");
      }
      if (custom.getValue() < 0) {
        throw new InvalidJobException(
            "resources.custom",
            "amounts must not be negative, got " + custom.getKey() + "=" + custom.getValue());
      }
    }
    if (spec.getRequiresCount() > MAX_REQUIRES) {
      throw new InvalidJobException(
          "requires",
          "at most " + MAX_REQUIRES + " label requirements, got " + spec.getRequiresCount());
    }
    for (dev.weft.v1.LabelRequirement need : spec.getRequiresList()) {
      if (!NAME.matcher(need.getKey()).matches()) {
        throw new InvalidJobException(
            "requires",
            "label keys are 1..63 of [A-Za-z0-9._/-], starting with a letter or digit; got '"
                + need.getKey()
                + "'");
      }
      if (need.getValue().length() > MAX_LABEL_VALUE_CHARS) {
        throw new InvalidJobException(
            "requires",
            "label values are at most "
                + MAX_LABEL_VALUE_CHARS
                + " characters ("
                + need.getKey()
                + ")");
      }
    }
  }

  /** A priority class is an integer within +-{@link #MAX_PRIORITY}. */
  static void checkPriority(int priority) {
    String problem = priorityProblem(priority);
    if (problem != null) {
      throw io.grpc.Status.INVALID_ARGUMENT
          .withDescription("priority: " + problem)
          .asRuntimeException();
    }
  }

  private static String priorityProblem(int priority) {
    if (priority < -MAX_PRIORITY || priority > MAX_PRIORITY) {
      return "must be "
          + -MAX_PRIORITY
          + ".."
          + MAX_PRIORITY
          + " (higher is served first; default 0), got "
          + priority;
    }
    return null;
  }

  /** The job's grace between SIGTERM and SIGKILL: its own, else the coordinator's default. */
  static long graceMs(JobSpec spec, long defaultGraceMs) {
    return spec.hasGrace() ? Durations.toMillis(spec.getGrace()) : defaultGraceMs;
  }

  /** The grace of a CancelJob request: unset keeps the job's own (-1 here). */
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

  /** A whole number of milliseconds, from 1ms (0 would mean "no limit" on the wire) to 30 days. */
  private static void checkTaskTimeout(Duration value) throws InvalidJobException {
    if (!Durations.isValid(value)) {
      throw new InvalidJobException("task_timeout", "is not a valid duration");
    }
    if (Durations.toMillis(value) < 1 || value.getSeconds() > MAX_TASK_TIMEOUT_SECONDS) {
      throw new InvalidJobException(
          "task_timeout",
          "the time one task attempt may run must be 1ms .. "
              + MAX_TASK_TIMEOUT_SECONDS
              + "s (unset: no limit), got "
              + Durations.toString(value));
    }
  }

  private static void checkRetry(RetryPolicy retry) throws InvalidJobException {
    long maxSeconds = MAX_RETRY_DELAY_SECONDS;
    if (retry.hasDelay()) {
      checkDuration("retry.delay", retry.getDelay(), maxSeconds, true);
    }
    double backoff = retry.getBackoff();
    if (!Double.isFinite(backoff) || (backoff != 0 && (backoff < 1 || backoff > MAX_BACKOFF))) {
      throw new InvalidJobException(
          "retry.backoff",
          "each retry waits this many times longer than the one before: must be 1 .. "
              + (int) MAX_BACKOFF
              + " (0 means 1), got "
              + backoff);
    }
    if (retry.hasMaxDelay()) {
      checkDuration("retry.max_delay", retry.getMaxDelay(), maxSeconds, false);
      if (retry.hasDelay() && Durations.compare(retry.getMaxDelay(), retry.getDelay()) < 0) {
        throw new InvalidJobException(
            "retry.max_delay",
            "must be at least retry.delay ("
                + Durations.toString(retry.getDelay())
                + "), got "
                + Durations.toString(retry.getMaxDelay()));
      }
    }
    boolean delays = retry.hasDelay() && Durations.isPositive(retry.getDelay());
    if (!delays && (retry.hasMaxDelay() || (backoff != 0 && backoff != 1))) {
      throw new InvalidJobException(
          retry.hasMaxDelay() ? "retry.max_delay" : "retry.backoff",
          "has no effect without a retry.delay of more than 0s");
    }
    if (retry.getNoRetryExitCodesCount() > MAX_EXIT_CODE_RANGES) {
      throw new InvalidJobException(
          "retry.no_retry_exit_codes",
          "at most " + MAX_EXIT_CODE_RANGES + " ranges, got " + retry.getNoRetryExitCodesCount());
    }
    for (ExitCodeRange range : retry.getNoRetryExitCodesList()) {
      String shown = range.getFrom() + "-" + range.getTo();
      if (range.getFrom() < 0 || range.getTo() > MAX_EXIT_CODE) {
        throw new InvalidJobException(
            "retry.no_retry_exit_codes",
            "exit codes are 0.." + MAX_EXIT_CODE + ", got the range " + shown);
      }
      if (range.getFrom() > range.getTo()) {
        throw new InvalidJobException(
            "retry.no_retry_exit_codes",
            "a range goes from its lower code to its higher one (from <= to), got " + shown);
      }
    }
  }

  /**
   * The jobs named in {@code after}: at most {@link #MAX_AFTER}, each once, ids of a sane length.
   * That they exist is for the scheduler to say.
   */
  private static void checkAfter(JobSpec spec) throws InvalidJobException {
    if (spec.getAfterCount() > MAX_AFTER) {
      throw new InvalidJobException(
          "after",
          "a job may wait for at most " + MAX_AFTER + " jobs, got " + spec.getAfterCount());
    }
    Set<String> seen = new HashSet<>();
    for (Dependency dependency : spec.getAfterList()) {
      String id = dependency.getJobId();
      if (id.isBlank() || id.length() > JobEndpoint.MAX_ID_CHARS) {
        throw new InvalidJobException(
            "after",
            "job ids are 1.."
                + JobEndpoint.MAX_ID_CHARS
                + " characters, not blank (got '"
                + id
                + "')");
      }
      if (!seen.add(id)) {
        throw new InvalidJobException("after", "job " + id + " is named more than once");
      }
    }
  }
}
