package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.HashTask;
import dev.weft.v1.JobSpec;
import dev.weft.v1.PiParams;
import dev.weft.v1.PrimesParams;
import dev.weft.v1.SleepParams;
import dev.weft.v1.SumParams;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The in-JVM kinds notice a cancel within milliseconds, whatever phase of a huge task they are in.
 * The bound asserted is generous (a shared machine must not make it flake); the measured time is
 * printed.
 */
class BuiltInKindsCancelTest {
  // Aimed at well under 100 ms; asserted at 1 s.
  private static final Duration BOUND = Duration.ofSeconds(1);
  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

  private ExecutorService executor;

  @BeforeEach
  void startExecutor() {
    executor = Executors.newSingleThreadExecutor();
  }

  @AfterEach
  void stopExecutor() throws InterruptedException {
    executor.shutdownNow();
    assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
  }

  @Test
  void sumOfSmallNumbers() throws Exception {
    JobSpec spec =
        JobSpec.newBuilder()
            .setSum(SumParams.newBuilder().setFrom(0).setTo(Long.MAX_VALUE / 4))
            .setTasks(1)
            .build();
    cancelAfterChecks("sum, small numbers", new SumKind(), spec, 3);
  }

  @Test
  void sumOfNumbersNeeding128Bits() throws Exception {
    JobSpec spec =
        JobSpec.newBuilder()
            .setSum(SumParams.newBuilder().setFrom(Long.MAX_VALUE / 2).setTo(Long.MAX_VALUE))
            .setTasks(1)
            .build();
    cancelAfterChecks("sum, 128-bit", new SumKind(), spec, 3);
  }

  @Test
  void primesWhileSievingBasePrimes() throws Exception {
    // Near the largest end the base primes alone (up to 3.2e7) take a while to sieve.
    cancelAfterChecks("primes, base primes", new PrimesKind(), primesNearTheTop(), 1);
  }

  @Test
  void primesWhileSievingSegments() throws Exception {
    // Past the base primes' ~700 checks, into the segments, each of which meets ~2e6 base primes.
    cancelAfterChecks("primes, segments", new PrimesKind(), primesNearTheTop(), 2_000);
  }

  @Test
  void pi() throws Exception {
    JobSpec spec =
        JobSpec.newBuilder()
            .setPi(PiParams.newBuilder().setSamples(1_000_000_000_000_000L).setSeed(1))
            .setTasks(1)
            .build();
    cancelAfterChecks("pi", new PiKind(), spec, 3);
  }

  @Test
  void hashOfALargeChunk() throws Exception {
    ByteString input =
        HashTask.newBuilder()
            .setData(ByteString.copyFrom(new byte[HashKind.MAX_CHUNK_BYTES]))
            .build()
            .toByteString();
    cancelAfterChecks("hash", new HashKind(), input, 16);
  }

  @Test
  void sleep() throws Exception {
    JobSpec spec =
        JobSpec.newBuilder()
            .setSleep(SleepParams.newBuilder().setMs(SleepKind.MAX_MS))
            .setTasks(1)
            .build();
    SleepKind kind = new SleepKind();
    ByteString input = kind.plan(spec).input(0);
    TestContext context = new TestContext();
    Future<Long> stopped = executor.submit(() -> runUntilCancelled(kind, input, context));
    assertTrue(context.awaitRegistration(START_TIMEOUT), "the task never started");
    measure("sleep", context, stopped);
  }

  private static JobSpec primesNearTheTop() {
    return JobSpec.newBuilder()
        .setPrimes(
            PrimesParams.newBuilder()
                .setFrom(PrimeSieve.MAX_TO - 1_000_000_000_000L)
                .setTo(PrimeSieve.MAX_TO))
        .setTasks(1)
        .build();
  }

  private void cancelAfterChecks(String what, JobKind kind, JobSpec spec, long checks)
      throws Exception {
    cancelAfterChecks(what, kind, kind.plan(spec).input(0), checks);
  }

  private void cancelAfterChecks(String what, JobKind kind, ByteString input, long checks)
      throws Exception {
    TestContext context = new TestContext();
    Future<Long> stopped = executor.submit(() -> runUntilCancelled(kind, input, context));
    assertTrue(
        context.awaitChecks(checks, START_TIMEOUT),
        what + ": the task did not check for cancellation " + checks + " times");
    measure(what, context, stopped);
  }

  /** Runs the task, which must end cancelled; returns when it did, in System.nanoTime(). */
  private static long runUntilCancelled(JobKind kind, ByteString input, TestContext context) {
    InterruptedException e =
        assertThrows(InterruptedException.class, () -> kind.run(input, context));
    long now = System.nanoTime();
    if (e instanceof TaskCancelledException cancelled) {
      throw new AssertionError("an in-JVM kind reports a plain stop, not " + cancelled.outcome());
    }
    return now;
  }

  private static void measure(String what, TestContext context, Future<Long> stopped)
      throws InterruptedException, TimeoutException {
    long cancelled = System.nanoTime();
    context.cancel();
    long returned;
    try {
      returned = stopped.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError(what + ": the task did not end cancelled", e.getCause());
    }
    double ms = (returned - cancelled) / 1e6;
    System.out.printf("%s: returned %.2f ms after the cancel%n", what, ms);
    assertTrue(
        returned - cancelled < BOUND.toNanos(),
        what + ": returned " + ms + " ms after the cancel, more than " + BOUND);
  }

  @Test
  void aThreadInterruptAloneAlsoStopsThem() throws Exception {
    // The worker interrupts the task's thread as well; kinds check both.
    TestContext context = new TestContext();
    SumKind kind = new SumKind();
    ByteString input =
        kind.plan(
                JobSpec.newBuilder()
                    .setSum(SumParams.newBuilder().setFrom(0).setTo(Long.MAX_VALUE / 4))
                    .setTasks(1)
                    .build())
            .input(0);
    Future<ByteString> running = executor.submit(() -> kind.run(input, context));
    assertTrue(context.awaitChecks(3, START_TIMEOUT));
    running.cancel(true);
    executor.shutdown();
    assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS), "the interrupt was not noticed");
  }
}
