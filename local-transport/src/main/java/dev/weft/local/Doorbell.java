package dev.weft.local;

import static dev.weft.local.SegmentDescriptor.INT;

import dev.weft.posix.Futex;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * Wake-ups for one ring direction, without lost wake-ups and without a syscall per frame: the
 * consumer announces it is about to sleep, re-checks the ring, then sleeps on the futex word; the
 * producer, after publishing a frame, wakes it only if it announced so.
 *
 * <p>Both sides fence between their store and their load (Dekker): either the consumer's re-check
 * sees the frame, or the producer sees the sleeping flag. The futex wait compares the word with the
 * value read before the flag was set, so a wake-up that lands between the re-check and the wait
 * makes the wait return at once.
 */
final class Doorbell {
  private final MemorySegment word;
  private final MemorySegment sleeping;

  Doorbell(MemorySegment word, MemorySegment sleeping) {
    this.word = word;
    this.sleeping = sleeping;
  }

  /** Producer side, after a frame is published. */
  void wakeIfSleeping() {
    VarHandle.fullFence();
    if ((int) INT.getVolatile(sleeping, 0L) != 0 && INT.compareAndSet(sleeping, 0L, 1, 0)) {
      wake();
    }
  }

  /** Wakes the consumer whatever it announced (on close, so it notices at once). */
  void wake() {
    INT.getAndAdd(word, 0L, 1);
    Futex.wake(word, Integer.MAX_VALUE);
  }

  /** Consumer side: announces the sleep; returns the word's value to pass to {@link #sleep}. */
  int announceSleep() {
    int sequence = (int) INT.getVolatile(word, 0L);
    INT.setVolatile(sleeping, 0L, 1);
    VarHandle.fullFence();
    return sequence;
  }

  /** Consumer side: sleeps unless woken since {@link #announceSleep}, at most timeoutNs. */
  Futex.WaitResult sleep(int sequence, long timeoutNs) {
    return Futex.await(word, sequence, timeoutNs);
  }

  /** Consumer side: awake again, whatever woke it. */
  void retractSleep() {
    INT.setVolatile(sleeping, 0L, 0);
  }
}
