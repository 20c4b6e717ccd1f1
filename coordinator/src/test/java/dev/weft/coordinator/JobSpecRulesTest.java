package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.util.Durations;
import dev.weft.kinds.InvalidJobException;
import dev.weft.v1.Dependency;
import dev.weft.v1.ExitCodeRange;
import dev.weft.v1.JobSpec;
import dev.weft.v1.RetryPolicy;
import dev.weft.v1.SumParams;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The spec rules of task timeouts, retry policies and dependencies, with their exact messages. */
final class JobSpecRulesTest {

  private static JobSpec sum(UnaryOperator<JobSpec.Builder> change) {
    return change
        .apply(JobSpec.newBuilder().setSum(SumParams.newBuilder().setFrom(1).setTo(10)))
        .build();
  }

  private static JobSpec retry(UnaryOperator<RetryPolicy.Builder> policy) {
    return sum(spec -> spec.setRetry(policy.apply(RetryPolicy.newBuilder())));
  }

  private static ExitCodeRange codes(int from, int to) {
    return ExitCodeRange.newBuilder().setFrom(from).setTo(to).build();
  }

  private static void assertRefused(String message, JobSpec spec) {
    InvalidJobException e = assertThrows(InvalidJobException.class, () -> JobSpecRules.check(spec));
    assertEquals(message, e.getMessage());
  }

  private static void assertAccepted(JobSpec spec) throws InvalidJobException {
    JobSpecRules.check(spec);
  }

  @Test
  void aTaskTimeoutIsAPositiveWholeMillisecondUpToThirtyDays() throws Exception {
    assertAccepted(sum(s -> s.setTaskTimeout(Durations.fromMillis(1))));
    assertAccepted(sum(s -> s.setTaskTimeout(Durations.fromDays(30))));
    String allowed = "task_timeout: the time one task attempt may run must be 1ms .. 2592000s";
    assertRefused(
        allowed + " (unset: no limit), got 0s", sum(s -> s.setTaskTimeout(Durations.ZERO)));
    assertRefused(
        allowed + " (unset: no limit), got -5s",
        sum(s -> s.setTaskTimeout(Durations.fromSeconds(-5))));
    assertRefused(
        allowed + " (unset: no limit), got 0.000000500s",
        sum(s -> s.setTaskTimeout(Durations.fromNanos(500))));
    assertRefused(
        allowed + " (unset: no limit), got 2592001s",
        sum(s -> s.setTaskTimeout(Durations.fromSeconds(30L * 24 * 3600 + 1))));
  }

  @Test
  void retryDelaysAreNotNegativeAndGrowByAtLeastOne() throws Exception {
    assertAccepted(
        retry(
            p ->
                p.setDelay(Durations.fromSeconds(1))
                    .setBackoff(2)
                    .setMaxDelay(Durations.fromMinutes(1))));
    assertAccepted(retry(p -> p.setDelay(Durations.ZERO)));
    assertRefused(
        "retry.delay: must be 0s .. 604800s, got -1s",
        retry(p -> p.setDelay(Durations.fromSeconds(-1))));
    assertRefused(
        "retry.backoff: each retry waits this many times longer than the one before: must be"
            + " 1 .. 100 (0 means 1), got 0.5",
        retry(p -> p.setDelay(Durations.fromSeconds(1)).setBackoff(0.5)));
    assertRefused(
        "retry.backoff: each retry waits this many times longer than the one before: must be"
            + " 1 .. 100 (0 means 1), got NaN",
        retry(p -> p.setDelay(Durations.fromSeconds(1)).setBackoff(Double.NaN)));
    assertRefused(
        "retry.max_delay: must be at least retry.delay (10s), got 5s",
        retry(p -> p.setDelay(Durations.fromSeconds(10)).setMaxDelay(Durations.fromSeconds(5))));
    assertRefused(
        "retry.max_delay: must be more than 0s .. 604800s, got 0s",
        retry(p -> p.setDelay(Durations.fromSeconds(1)).setMaxDelay(Durations.ZERO)));
    assertRefused(
        "retry.backoff: has no effect without a retry.delay of more than 0s",
        retry(p -> p.setBackoff(2)));
    assertRefused(
        "retry.max_delay: has no effect without a retry.delay of more than 0s",
        retry(p -> p.setMaxDelay(Durations.fromSeconds(5))));
  }

  @Test
  void noRetryExitCodesAreRangesWithinAByte() throws Exception {
    assertAccepted(
        retry(p -> p.addNoRetryExitCodes(codes(2, 2)).addNoRetryExitCodes(codes(64, 78))));
    assertAccepted(retry(p -> p.addNoRetryExitCodes(codes(0, 255))));
    assertRefused(
        "retry.no_retry_exit_codes: exit codes are 0..255, got the range 250-300",
        retry(p -> p.addNoRetryExitCodes(codes(250, 300))));
    assertRefused(
        "retry.no_retry_exit_codes: exit codes are 0..255, got the range -1-3",
        retry(p -> p.addNoRetryExitCodes(codes(-1, 3))));
    assertRefused(
        "retry.no_retry_exit_codes: a range goes from its lower code to its higher one"
            + " (from <= to), got 78-64",
        retry(p -> p.addNoRetryExitCodes(codes(78, 64))));
  }

  @Test
  void aJobWaitsForAtMostSixtyFourJobsEachNamedOnce() throws Exception {
    assertAccepted(
        sum(
            s -> {
              for (int i = 0; i < JobSpecRules.MAX_AFTER; i++) {
                s.addAfter(Dependency.newBuilder().setJobId("j" + i));
              }
              return s;
            }));
    assertRefused(
        "after: a job may wait for at most 64 jobs, got 65",
        sum(
            s -> {
              for (int i = 0; i <= JobSpecRules.MAX_AFTER; i++) {
                s.addAfter(Dependency.newBuilder().setJobId("j" + i));
              }
              return s;
            }));
    assertRefused(
        "after: job ja is named more than once",
        sum(
            s ->
                s.addAfter(Dependency.newBuilder().setJobId("ja"))
                    .addAfter(Dependency.newBuilder().setJobId("ja").setAny(true))));
    assertRefused(
        "after: job ids are 1..64 characters, not blank (got '')",
        sum(s -> s.addAfter(Dependency.getDefaultInstance())));
  }
}
