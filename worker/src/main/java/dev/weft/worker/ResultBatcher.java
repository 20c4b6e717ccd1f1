package dev.weft.worker;

import dev.weft.v1.TaskResult;
import dev.weft.v1.TaskResults;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Sends task results in batches, one {@link TaskResults} per flush, without ever holding a result
 * back on a timer: a lone result leaves at once.
 *
 * <p>The flush rules: while a link reader is handling what it read (assignments, whose cheap tasks
 * it may run itself), results wait, and the reader flushes when it has handled everything; a result
 * that arrives with no reader at work is flushed by the thread that brings it, unless another
 * thread is flushing already (that one sends it too). Several readers (the control stream and a
 * shared-memory link) may be at work at once: the last to finish flushes.
 */
final class ResultBatcher {
  /** Most results in one message, so one message never grows without bound. */
  static final int MAX_RESULTS_PER_BATCH = 1024;

  /** Keeps a batch within one shared-memory ring frame (exec results carry output tails). */
  static final int MAX_BYTES_PER_BATCH = 1 << 20;

  private final Consumer<TaskResults> out;
  private final ConcurrentLinkedQueue<TaskResult> pending = new ConcurrentLinkedQueue<>();
  private final AtomicInteger readers = new AtomicInteger();
  private final AtomicInteger flushers = new AtomicInteger();

  /**
   * @param out sends one batch; called by one thread at a time
   */
  ResultBatcher(Consumer<TaskResults> out) {
    this.out = out;
  }

  /** A task's result: sent now, or with the batch of the reader at work. */
  void add(TaskResult result) {
    pending.add(result);
    // Read after the add: a reader that ends after this read flushes what we added.
    if (readers.get() == 0) {
      flush();
    }
  }

  /** A link reader starts handling what it read; results wait for {@link #readerDone()}. */
  void readerBusy() {
    readers.incrementAndGet();
  }

  /** The reader has handled what it read: the last reader at work flushes. */
  void readerDone() {
    int left = readers.decrementAndGet();
    if (left < 0) {
      readers.incrementAndGet();
      throw new IllegalStateException("readerDone() without readerBusy()");
    }
    if (left == 0) {
      flush();
    }
  }

  /** Sends everything pending; concurrent callers leave the work to the one already at it. */
  private void flush() {
    if (flushers.getAndIncrement() != 0) {
      return;
    }
    try {
      drain();
    } catch (RuntimeException e) {
      // A failed send must not leave every later result waiting for a flusher that is gone.
      flushers.set(0);
      throw e;
    }
  }

  private void drain() {
    do {
      TaskResults.Builder batch = TaskResults.newBuilder();
      int bytes = 0;
      TaskResult next;
      while ((next = pending.poll()) != null) {
        batch.addResults(next);
        bytes += next.getSerializedSize();
        if (batch.getResultsCount() == MAX_RESULTS_PER_BATCH || bytes >= MAX_BYTES_PER_BATCH) {
          out.accept(batch.build());
          batch = TaskResults.newBuilder();
          bytes = 0;
        }
      }
      if (batch.getResultsCount() > 0) {
        out.accept(batch.build());
      }
    } while (flushers.decrementAndGet() != 0);
  }
}
