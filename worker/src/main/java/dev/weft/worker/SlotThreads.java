package dev.weft.worker;

import dev.weft.wire.LinkWaits;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedTransferQueue;
import java.util.concurrent.TimeUnit;

/**
 * A fixed set of slot threads taking work from one queue. An idle slot keeps looking for a short
 * while (spinning where there are cores to spare, then yielding the core) before it sleeps, because
 * waking a sleeping thread costs tens of microseconds here, more than a tiny task takes; after that
 * it sleeps and costs nothing.
 */
final class SlotThreads {
  // As for a link's reader: spinning took the core from the threads it waited for on two vCPUs
  // (shm round trips 13.5 µs with a 5 µs spin here, 10.5 µs without, three runs each).
  private static final long SPIN_NS = LinkWaits.SPIN_NS;
  private static final long YIELD_NS = TimeUnit.MICROSECONDS.toNanos(100);
  private static final long SLEEP_MS = 1_000;

  private final LinkedTransferQueue<Runnable> queue = new LinkedTransferQueue<>();
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean stopped;

  SlotThreads(int slots) {
    this(slots, Thread.ofPlatform().name("weft-slot-", 1).daemon(true));
  }

  /** Slot threads made by {@code threads} (virtual ones, where many workers share a process). */
  SlotThreads(int slots, Thread.Builder threads) {
    for (int i = 1; i <= slots; i++) {
      this.threads.add(threads.start(this::loop));
    }
  }

  void execute(Runnable work) {
    if (!queue.offer(work)) {
      throw new IllegalStateException("slot queue refused work");
    }
  }

  private void loop() {
    while (!stopped) {
      Runnable work = next();
      if (work != null) {
        work.run();
      }
    }
  }

  private Runnable next() {
    Runnable work = queue.poll();
    if (work != null) {
      return work;
    }
    long start = System.nanoTime();
    long elapsed;
    while ((elapsed = System.nanoTime() - start) < SPIN_NS + YIELD_NS) {
      work = queue.poll();
      if (work != null) {
        return work;
      }
      if (elapsed < SPIN_NS) {
        Thread.onSpinWait();
      } else {
        Thread.yield();
      }
    }
    try {
      return queue.poll(SLEEP_MS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      // An interrupt meant for a cancelled task may land between tasks: only a stop ends the loop.
      if (stopped) {
        Thread.currentThread().interrupt();
      }
      return null;
    }
  }

  /** Stops taking work; running work is interrupted. */
  void shutdownNow() {
    stopped = true;
    threads.forEach(Thread::interrupt);
  }

  boolean awaitTermination(long millis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    for (Thread thread : threads) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !thread.join(java.time.Duration.ofNanos(left))) {
        return false;
      }
    }
    return true;
  }
}
