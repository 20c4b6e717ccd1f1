package dev.weft.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class FutexTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

  @Test
  void aWaiterIsWokenByAnotherThread() throws Exception {
    try (Arena arena = Arena.ofShared();
        ExecutorService executor = Executors.newSingleThreadExecutor()) {
      MemorySegment word = arena.allocate(ValueLayout.JAVA_INT);
      CountDownLatch aboutToWait = new CountDownLatch(1);
      CompletableFuture<Futex.WaitResult> result =
          CompletableFuture.supplyAsync(
              () -> {
                aboutToWait.countDown();
                Futex.WaitResult r = Futex.WaitResult.VALUE_CHANGED;
                // Spurious wake-ups are allowed: wait until the word really changed.
                while (word.get(ValueLayout.JAVA_INT, 0) == 0) {
                  r = Futex.await(word, 0, 30 * SECOND);
                }
                return r;
              },
              executor);
      assertTrue(aboutToWait.await(10, TimeUnit.SECONDS));
      long start = System.nanoTime();
      // Wake until the waiter returns: it may not have entered the kernel yet.
      while (!result.isDone()) {
        word.set(ValueLayout.JAVA_INT, 0, 1);
        Futex.wake(word, 1);
        Thread.onSpinWait();
        assertTrue(System.nanoTime() - start < 10 * SECOND, "waiter never woke");
      }
      Futex.WaitResult r = result.get(10, TimeUnit.SECONDS);
      assertTrue(r == Futex.WaitResult.WOKEN || r == Futex.WaitResult.VALUE_CHANGED, r.name());
      assertTrue(System.nanoTime() - start < 10 * SECOND, "well before its 30 s timeout");
    }
  }

  @Test
  void aWaitTimesOut() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment word = arena.allocate(ValueLayout.JAVA_INT);
      long start = System.nanoTime();
      Futex.WaitResult result = Futex.await(word, 0, TimeUnit.MILLISECONDS.toNanos(20));
      long elapsed = System.nanoTime() - start;
      assertEquals(Futex.WaitResult.TIMED_OUT, result);
      assertTrue(elapsed >= TimeUnit.MILLISECONDS.toNanos(15), "slept " + elapsed + " ns");
      assertTrue(elapsed < 5 * SECOND, "slept " + elapsed + " ns");
    }
  }

  @Test
  void aWaitOnAChangedWordReturnsAtOnce() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment word = arena.allocate(ValueLayout.JAVA_INT);
      word.set(ValueLayout.JAVA_INT, 0, 7);
      assertEquals(Futex.WaitResult.VALUE_CHANGED, Futex.await(word, 6, 30 * SECOND));
      assertEquals(0, Futex.wake(word, 1), "nobody waits");
    }
  }

  @Test
  void refusesAMisalignedWord() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment word = arena.allocate(8, 8).asSlice(1, 4);
      assertThrows(IllegalArgumentException.class, () -> Futex.await(word, 0, SECOND));
    }
  }
}
