package dev.weft.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.TaskResult;
import dev.weft.v1.TaskResults;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

class ResultBatcherTest {
  private static final long DEADLINE_MS = 10_000;

  private final List<TaskResults> sent = new CopyOnWriteArrayList<>();
  private final ResultBatcher batcher = new ResultBatcher(sent::add);

  private static TaskResult result(long attemptId) {
    return TaskResult.newBuilder().setAttemptId(attemptId).setOk(true).build();
  }

  /** The attempt ids of each batch sent, in order. */
  private List<List<Long>> batches() {
    return sent.stream()
        .map(b -> b.getResultsList().stream().map(TaskResult::getAttemptId).toList())
        .toList();
  }

  private static void await(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  @Test
  void aLoneResultLeavesAtOnceOnTheThreadThatBringsIt() {
    batcher.add(result(1));

    assertEquals(List.of(List.of(1L)), batches());
  }

  @Test
  void resultsWhileAReaderIsBusyLeaveAsOneBatchWhenItIsDone() {
    batcher.readerBusy();
    batcher.add(result(1));
    batcher.add(result(2));
    batcher.add(result(3));
    assertEquals(List.of(), batches());

    batcher.readerDone();

    assertEquals(List.of(List.of(1L, 2L, 3L)), batches());
  }

  @Test
  void withTwoReadersBusyTheLastOneDoneFlushes() {
    batcher.readerBusy();
    batcher.readerBusy();
    batcher.add(result(1));
    batcher.add(result(2));

    batcher.readerDone();
    assertEquals(List.of(), batches());
    batcher.readerDone();

    assertEquals(List.of(List.of(1L, 2L)), batches());
  }

  @Test
  void aReaderWithNothingToSendSendsNothing() {
    batcher.readerBusy();
    batcher.readerDone();

    assertEquals(List.of(), batches());
  }

  @Test
  void aBatchHoldsAtMostItsCountOfResults() {
    int count = 2 * ResultBatcher.MAX_RESULTS_PER_BATCH + 7;
    batcher.readerBusy();
    for (int i = 0; i < count; i++) {
      batcher.add(result(i));
    }
    batcher.readerDone();

    assertEquals(
        List.of(ResultBatcher.MAX_RESULTS_PER_BATCH, ResultBatcher.MAX_RESULTS_PER_BATCH, 7),
        sent.stream().map(TaskResults::getResultsCount).toList());
    assertEquals(
        count - 1, sent.getLast().getResults(6).getAttemptId(), "order is kept across batches");
  }

  @Test
  void aBatchEndsWithTheResultThatTakesItPastItsByteLimit() {
    // Each result a little over a quarter of the limit: the fourth takes a batch past it.
    ByteString output = ByteString.copyFrom(new byte[ResultBatcher.MAX_BYTES_PER_BATCH / 4 + 1]);
    batcher.readerBusy();
    for (int i = 0; i < 5; i++) {
      batcher.add(result(i).toBuilder().setOutput(output).build());
    }
    batcher.readerDone();

    assertEquals(List.of(List.of(0L, 1L, 2L, 3L), List.of(4L)), batches());
  }

  @Test
  void aResultArrivingDuringAFlushIsSentByTheFlushingThread() throws Exception {
    CountDownLatch inSend = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<List<Long>> batches = new CopyOnWriteArrayList<>();
    ResultBatcher slow =
        new ResultBatcher(
            batch -> {
              batches.add(batch.getResultsList().stream().map(TaskResult::getAttemptId).toList());
              inSend.countDown();
              try {
                assertTrue(release.await(DEADLINE_MS, TimeUnit.MILLISECONDS));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
              }
            });
    Thread first = Thread.ofPlatform().start(() -> slow.add(result(1)));
    assertTrue(inSend.await(DEADLINE_MS, TimeUnit.MILLISECONDS));

    slow.add(result(2));
    assertEquals(List.of(List.of(1L)), batches, "the second add left the send to the first");

    release.countDown();
    first.join(DEADLINE_MS);
    await("the flushing thread sent the second result", () -> batches.size() == 2);
    assertEquals(List.of(List.of(1L), List.of(2L)), batches);
  }

  @Test
  void aFailedSendDoesNotStopLaterFlushes() {
    List<List<Long>> batches = new CopyOnWriteArrayList<>();
    ResultBatcher failingOnce =
        new ResultBatcher(
            batch -> {
              List<Long> ids =
                  batch.getResultsList().stream().map(TaskResult::getAttemptId).toList();
              if (ids.contains(1L)) {
                throw new IllegalStateException("link closed");
              }
              batches.add(ids);
            });
    assertThrows(IllegalStateException.class, () -> failingOnce.add(result(1)));

    failingOnce.add(result(2));

    assertEquals(List.of(List.of(2L)), batches);
  }

  @Test
  void readerDoneWithoutReaderBusyIsABug() {
    IllegalStateException e = assertThrows(IllegalStateException.class, batcher::readerDone);
    assertEquals("readerDone() without readerBusy()", e.getMessage());
    batcher.add(result(1));
    assertEquals(List.of(List.of(1L)), batches(), "the count was left as it was");
  }
}
