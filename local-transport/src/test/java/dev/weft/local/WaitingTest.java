package dev.weft.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.agrona.concurrent.IdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Receivers that wait: woken by frames, bounded by timeouts, cheap while idle. */
@ExtendWith(TestSegments.class)
class WaitingTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  private ShmSegment creator;
  private ShmSegment attacher;
  private ExecutorService executor;

  @BeforeEach
  void open() throws IOException {
    ShmConfig config = TestSegments.config().parkTimeoutNs(TimeUnit.MILLISECONDS.toNanos(100));
    creator = ShmSegment.create(config);
    attacher =
        ShmSegment.attach(
            TestSegments.attacherOf(config).parkTimeoutNs(TimeUnit.MILLISECONDS.toNanos(100)));
    executor = Executors.newSingleThreadExecutor();
  }

  @AfterEach
  void close() {
    executor.shutdownNow();
    attacher.close();
    creator.close();
  }

  @Test
  void aSleepingReceiverIsWokenByTheNextFrame() throws Exception {
    // A long receive timeout: only the producer's futex wake ends the sleep in time.
    ShmConfig slow = TestSegments.config().parkTimeoutNs(10 * SECOND);
    try (ShmSegment c = ShmSegment.create(slow);
        ShmSegment a =
            ShmSegment.attach(TestSegments.attacherOf(slow).parkTimeoutNs(10 * SECOND))) {
      AtomicInteger type = new AtomicInteger();
      for (int round = 1; round <= 20; round++) {
        CompletableFuture<Integer> got =
            CompletableFuture.supplyAsync(() -> receive(a.receiver(), type, 30 * SECOND), executor);
        // Give it time to reach the futex, but without relying on it.
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(round % 2 == 0 ? 20 : 0);
        while (System.nanoTime() < until) {
          Thread.onSpinWait();
        }
        long sent = System.nanoTime();
        assertTrue(c.sender().offer(round, new byte[8]));
        assertEquals(1, got.get(10, TimeUnit.SECONDS));
        assertEquals(round, type.get());
        assertTrue(System.nanoTime() - sent < 5 * SECOND, "woken by the frame, not the timeout");
      }
    }
  }

  @Test
  void aReceiveTimesOutWithNothingToRead() throws Exception {
    long start = System.nanoTime();
    assertEquals(
        0, attacher.receiver().receive((t, p) -> {}, 10, TimeUnit.MILLISECONDS.toNanos(250)));
    long elapsed = System.nanoTime() - start;
    assertTrue(elapsed >= TimeUnit.MILLISECONDS.toNanos(240), "returned after " + elapsed);
    assertTrue(elapsed < 5 * SECOND, "returned after " + elapsed);
  }

  @Test
  void anIdleReceiverCostsAlmostNoCpu() throws Exception {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long cpuBefore = threads.getCurrentThreadCpuTime();
    long wallBefore = System.nanoTime();
    assertEquals(0, attacher.receiver().receive((t, p) -> {}, 10, SECOND));
    long cpu = threads.getCurrentThreadCpuTime() - cpuBefore;
    long wall = System.nanoTime() - wallBefore;
    assertTrue(
        cpu < wall / 20,
        "idle receive used " + cpu / 1000 + " µs of CPU in " + wall / 1000 + " µs");
  }

  @Test
  void closingTheSegmentWakesItsOwnWaitingReceiver() throws Exception {
    ShmConfig slow = TestSegments.config().parkTimeoutNs(10 * SECOND);
    ShmSegment c = ShmSegment.create(slow);
    try (ShmSegment a =
        ShmSegment.attach(TestSegments.attacherOf(slow).parkTimeoutNs(10 * SECOND))) {
      CompletableFuture<Integer> got =
          CompletableFuture.supplyAsync(
              () -> receive(c.receiver(), new AtomicInteger(), 30 * SECOND), executor);
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
      while (System.nanoTime() < until) {
        Thread.onSpinWait();
      }
      long start = System.nanoTime();
      c.close();
      // The waiter wakes and finds its receiver closed.
      java.util.concurrent.ExecutionException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              java.util.concurrent.ExecutionException.class, () -> got.get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof IllegalStateException, e.getCause().toString());
      assertTrue(System.nanoTime() - start < 5 * SECOND);
      assertTrue(a.isPeerClosed());
    } finally {
      c.close();
    }
  }

  @Test
  void aPeerThatClosesEndsTheWaitEarly() throws Exception {
    ShmConfig slow = TestSegments.config().parkTimeoutNs(10 * SECOND);
    try (ShmSegment c = ShmSegment.create(slow)) {
      ShmSegment a = ShmSegment.attach(TestSegments.attacherOf(slow).parkTimeoutNs(10 * SECOND));
      CompletableFuture<Integer> got =
          CompletableFuture.supplyAsync(
              () -> receive(c.receiver(), new AtomicInteger(), 30 * SECOND), executor);
      long start = System.nanoTime();
      a.close();
      assertEquals(0, got.get(10, TimeUnit.SECONDS));
      assertTrue(System.nanoTime() - start < 5 * SECOND);
    }
  }

  @Test
  void theIdleStrategyParksAnAgentUntilWorkArrives() throws Exception {
    IdleStrategy idle = attacher.receiver().newIdleStrategy();
    AtomicInteger frames = new AtomicInteger();
    CompletableFuture<Void> agent =
        CompletableFuture.runAsync(
            () -> {
              try {
                while (frames.get() < 3) {
                  idle.idle(attacher.receiver().poll((t, p) -> frames.incrementAndGet(), 10));
                }
              } catch (CorruptFrameException e) {
                throw new IllegalStateException(e);
              }
            },
            executor);
    for (int i = 1; i <= 3; i++) {
      assertTrue(creator.sender().offer(i, new byte[4]));
    }
    agent.get(10, TimeUnit.SECONDS);
    assertEquals(3, frames.get());
  }

  private static int receive(FrameReceiver receiver, AtomicInteger type, long timeoutNs) {
    try {
      return receiver.receive((t, p) -> type.set(t), 10, timeoutNs);
    } catch (CorruptFrameException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
