package dev.weft.coordinator;

import com.google.protobuf.util.Durations;
import dev.weft.v1.ExitCodeRange;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RetryPolicy;
import java.util.BitSet;

/**
 * A job's retry policy as the scheduler applies it ({@code JobSpec.retry}, checked by {@link
 * JobSpecRules}): how long a failed attempt waits before its task may run again, which exit codes
 * fail a task at once, and whether failures of the task's own are retried at all.
 */
final class RetryRule {
  /** The longest wait, whatever the policy: a bound on every timer a retry sets. */
  static final long MAX_DELAY_MS = JobSpecRules.MAX_RETRY_DELAY_SECONDS * 1_000;

  private final long delayMs;
  private final double backoff;
  private final long maxDelayMs;
  // Exit codes 0..255 that fail a task at once; never changed after construction.
  private final BitSet noRetryExitCodes = new BitSet(256);
  private final boolean retriesApplicationErrors;

  private RetryRule(JobSpec spec) {
    RetryPolicy policy = spec.getRetry();
    this.delayMs = policy.hasDelay() ? Durations.toMillis(policy.getDelay()) : 0;
    this.backoff = policy.getBackoff() == 0 ? 1 : policy.getBackoff();
    this.maxDelayMs =
        policy.hasMaxDelay()
            ? Math.min(Durations.toMillis(policy.getMaxDelay()), MAX_DELAY_MS)
            : MAX_DELAY_MS;
    for (ExitCodeRange range : policy.getNoRetryExitCodesList()) {
      noRetryExitCodes.set(range.getFrom(), range.getTo() + 1);
    }
    // Naming the exit codes that are final says that the others are worth another attempt.
    this.retriesApplicationErrors = spec.getRetryOnError() || policy.getNoRetryExitCodesCount() > 0;
  }

  static RetryRule of(JobSpec spec) {
    return new RetryRule(spec);
  }

  /**
   * How long a task waits after its {@code failures}-th failed attempt before it may run again:
   * {@code delay * backoff^(failures-1)}, at most {@code max_delay}; 0 runs it again at once.
   */
  long delayMs(int failures) {
    if (delayMs == 0) {
      return 0;
    }
    double grown = delayMs * Math.pow(backoff, Math.max(0, failures - 1));
    return (long) Math.min(grown, (double) maxDelayMs);
  }

  /** True when a task that exited with {@code exitCode} fails at once, attempts left or not. */
  boolean isFinal(int exitCode) {
    return exitCode >= 0 && exitCode < 256 && noRetryExitCodes.get(exitCode);
  }

  /**
   * Whether a failure of the task's own (a non-zero exit) is retried: with {@code retry_on_error},
   * or when the job names exit codes not to retry, which implies retrying the others.
   */
  boolean retriesApplicationErrors() {
    return retriesApplicationErrors;
  }
}
