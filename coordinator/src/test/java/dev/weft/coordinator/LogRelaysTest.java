package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Hello;
import dev.weft.v1.LogChunk;
import dev.weft.v1.LogRequest;
import dev.weft.v1.TaskLogChunk;
import dev.weft.v1.TaskLogStream;
import dev.weft.wire.Transport;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogRelaysTest {
  private final Outboxes outboxes = new Outboxes();
  private final FakeClock clock = new FakeClock();
  private final LogRelays relays = new LogRelays(clock);

  /** Time that moves when the test says, and the timers due by then. */
  private static final class FakeClock implements LogRelays.Clock {
    private long nowNanos = 1_000_000_000L;
    private final List<long[]> deadlines = new ArrayList<>();
    private final List<Runnable> actions = new ArrayList<>();
    private final List<boolean[]> cancelled = new ArrayList<>();

    @Override
    public long nanoTime() {
      return nowNanos;
    }

    @Override
    public Conductor.Timer schedule(long delayMs, Runnable action) {
      boolean[] off = {false};
      deadlines.add(new long[] {nowNanos + delayMs * 1_000_000});
      actions.add(action);
      cancelled.add(off);
      return () -> off[0] = true;
    }

    int pending() {
      int n = 0;
      for (boolean[] off : cancelled) {
        n += off[0] ? 0 : 1;
      }
      return n;
    }

    /** Moves time on by {@code ms} and runs the timers due, as the conductor would. */
    void advanceMs(long ms) {
      nowNanos += ms * 1_000_000;
      for (int i = 0; i < actions.size(); i++) {
        if (!cancelled.get(i)[0] && deadlines.get(i)[0] <= nowNanos) {
          cancelled.get(i)[0] = true;
          actions.get(i).run();
        }
      }
    }
  }

  private final WorkerNames names = new WorkerNames();

  /** A client stream that records what it got, ready or not as the test says. */
  private static final class Client extends ServerCallStreamObserver<TaskLogChunk> {
    final List<TaskLogChunk> chunks = new ArrayList<>();
    boolean ready = true;
    boolean completed;
    Status error;

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public void setOnCancelHandler(Runnable onCancelHandler) {}

    @Override
    public void setCompression(String compression) {}

    @Override
    public boolean isReady() {
      return ready;
    }

    @Override
    public void setOnReadyHandler(Runnable onReadyHandler) {}

    @Override
    public void request(int count) {}

    @Override
    public void setMessageCompression(boolean enable) {}

    @Override
    public void disableAutoInboundFlowControl() {}

    @Override
    public void onNext(TaskLogChunk value) {
      chunks.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = ((StatusRuntimeException) t).getStatus();
    }

    @Override
    public void onCompleted() {
      completed = true;
    }
  }

  /** A worker's link that records what the coordinator sends it. */
  private static final class Link implements WorkerLink {
    final List<CoordinatorMessage> sent = new ArrayList<>();

    @Override
    public void send(CoordinatorMessage message) {
      sent.add(message);
    }

    @Override
    public boolean isWritable() {
      return true;
    }

    @Override
    public void whenWritable(Runnable action) {}

    @Override
    public Transport transport() {
      return Transport.GRPC;
    }

    @Override
    public void close(String reason) {}

    @Override
    public void refuse(Status status) {}
  }

  private static AttachedWorker worker(String id, Link link) {
    Hello hello = Hello.newBuilder().setWorkerId(id).setSlots(1).addKinds("exec").build();
    return new AttachedWorker(
        id,
        hello,
        link,
        0,
        0,
        new AttachedWorker.SlotUse() {
          @Override
          public void taken(JobRun job) {}

          @Override
          public void returned(JobRun job) {}

          @Override
          public void mayTakeMore(AttachedWorker worker) {}
        });
  }

  /** The outbox of a call, acknowledging what it writes as the endpoint's does. */
  private StreamOutbox<TaskLogChunk> outbox(Client client, long requestId) {
    return new StreamOutbox<>(
        client,
        LogRelays.OUTBOX_LIMIT,
        outboxes,
        java.util.function.UnaryOperator.identity(),
        sent -> relays.delivered(requestId, sent));
  }

  private static List<Integer> acks(Link link, long requestId) {
    List<Integer> acks = new ArrayList<>();
    for (CoordinatorMessage message : link.sent) {
      if (message.hasLogAck() && message.getLogAck().getRequestId() == requestId) {
        acks.add(message.getLogAck().getChunks());
      }
    }
    return acks;
  }

  private static LogRequest request() {
    return LogRequest.newBuilder()
        .setJobId("j1")
        .setTask(2)
        .setAttempt(3)
        .setStream(TaskLogStream.TASK_LOG_STDERR)
        .setFollow(true)
        .build();
  }

  private static LogChunk chunk(long id, String data, long offset, boolean eof) {
    return LogChunk.newBuilder()
        .setRequestId(id)
        .setData(ByteString.copyFromUtf8(data))
        .setOffset(offset)
        .setEof(eof)
        .build();
  }

  @Test
  void relaysTheWorkersChunksInOrderAndEndsWithTheLast() {
    Link link = new Link();
    AttachedWorker worker = worker("w1", link);
    Client client = new Client();
    long id = relays.newRequestId();
    relays.start(id, outbox(client, id), worker, request(), "/logs");

    LogRequest sent = link.sent.getFirst().getLogRequest();
    assertEquals(request().toBuilder().setRequestId(id).setWindow(LogRelays.WINDOW).build(), sent);
    relays.chunk(worker, chunk(id, "abc", 10, false));
    relays.chunk(worker, chunk(id, "", 13, false)); // nothing new: nothing to send
    relays.chunk(worker, chunk(id, "de", 13, true));
    outboxes.run();

    assertEquals(2, client.chunks.size());
    assertEquals(
        TaskLogChunk.newBuilder()
            .setData(ByteString.copyFromUtf8("abc"))
            .setOffset(10)
            .setWorkerId("w1")
            .setAttempt(3)
            .build(),
        client.chunks.get(0));
    assertEquals(
        TaskLogChunk.newBuilder().setData(ByteString.copyFromUtf8("de")).setOffset(13).build(),
        client.chunks.get(1));
    assertTrue(client.completed);
    assertNull(client.error);
    assertEquals(List.of(), acks(link, id), "nothing to acknowledge once the request ended");
  }

  @Test
  void aSlowClientHoldsAtMostTheWindowAndItsAcksPaceTheWorker() {
    Link link = new Link();
    AttachedWorker worker = worker("w1", link);
    Client slow = new Client();
    slow.ready = false;
    long id = relays.newRequestId();
    StreamOutbox<TaskLogChunk> outbox = outbox(slow, id);
    relays.start(id, outbox, worker, request(), "/logs");

    for (int i = 0; i < LogRelays.WINDOW; i++) {
      relays.chunk(worker, chunk(id, "x", i, false));
    }
    outboxes.run();
    assertTrue(slow.chunks.isEmpty());
    assertEquals(LogRelays.WINDOW, outbox.queued());
    assertEquals(List.of(), acks(link, id), "nothing taken, nothing acknowledged");

    slow.ready = true; // the client reads: its onReady handler flushes
    outbox.flush();
    assertEquals(LogRelays.WINDOW, slow.chunks.size());
    assertEquals(List.of(LogRelays.WINDOW), acks(link, id));
    assertNull(slow.error);
  }

  @Test
  void aClientThatTakesNothingForTheStallTimeEndsWithResourceExhausted() {
    Link link = new Link();
    AttachedWorker worker = worker("w1", link);
    Client stalled = new Client();
    stalled.ready = false;
    long id = relays.newRequestId();
    StreamOutbox<TaskLogChunk> outbox = outbox(stalled, id);
    relays.start(id, outbox, worker, request(), "/logs");
    relays.chunk(worker, chunk(id, "a", 0, false));
    outboxes.run();

    clock.advanceMs(LogRelays.STALL_MS / 2);
    stalled.ready = true; // it takes what waits: the stall clock starts again
    outbox.flush();
    stalled.ready = false;
    relays.chunk(worker, chunk(id, "b", 1, false));
    outboxes.run();
    clock.advanceMs(LogRelays.STALL_MS / 2);
    assertNull(stalled.error, "it took a chunk less than the stall time ago");

    clock.advanceMs(LogRelays.STALL_MS / 2);
    outboxes.run();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, stalled.error.getCode());
    assertEquals(
        "the client took none of the log for 60 s while 1 chunks waited for it",
        stalled.error.getDescription());
    assertEquals(id, link.sent.getLast().getLogCancel().getRequestId());
    assertEquals(0, clock.pending(), "no timer left behind");
  }

  @Test
  void aRelayThatEndsLeavesNoTimer() {
    AttachedWorker worker = worker("w1", new Link());
    Client client = new Client();
    long id = relays.newRequestId();
    relays.start(id, outbox(client, id), worker, request(), "/logs");
    relays.chunk(worker, chunk(id, "a", 0, false));
    relays.chunk(worker, chunk(id, "b", 1, true));
    outboxes.run();
    assertTrue(client.completed);
    assertEquals(0, clock.pending());
  }

  @Test
  void aWorkerPastTheOutboxEndsThatCallWithResourceExhaustedOnly() {
    Link link = new Link();
    AttachedWorker worker = worker("w1", link);
    Client slow = new Client();
    slow.ready = false;
    Client other = new Client();
    long slowId = relays.newRequestId();
    long otherId = relays.newRequestId();
    relays.start(slowId, outbox(slow, slowId), worker, request(), "/logs");
    relays.start(otherId, outbox(other, otherId), worker, request(), "/logs");

    for (int i = 0; i <= LogRelays.OUTBOX_LIMIT; i++) {
      relays.chunk(worker, chunk(slowId, "x", i, false));
    }
    relays.chunk(worker, chunk(otherId, "y", 0, false));
    outboxes.run();

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, slow.error.getCode());
    assertTrue(slow.chunks.isEmpty());
    assertTrue(
        link.sent.stream()
            .anyMatch(m -> m.hasLogCancel() && m.getLogCancel().getRequestId() == slowId));
    assertEquals(1, other.chunks.size(), "the other call is unaffected");
    assertNull(other.error);
    // Late chunks of the ended request are dropped.
    relays.chunk(worker, chunk(slowId, "x", 99, true));
    outboxes.run();
    assertTrue(slow.chunks.isEmpty());
  }

  @Test
  void chunksOfAnotherWorkerAreDropped() {
    AttachedWorker worker = worker("w1", new Link());
    AttachedWorker impostor = worker("w2", new Link());
    Client client = new Client();
    long id = relays.newRequestId();
    relays.start(id, outbox(client, id), worker, request(), "/logs");
    relays.chunk(impostor, chunk(id, "forged", 0, true));
    outboxes.run();
    assertTrue(client.chunks.isEmpty());
    assertTrue(!client.completed);
  }

  @Test
  void aWorkersErrorIsNotFoundAndAWorkerLostMidStreamIsAborted() {
    Link link = new Link();
    AttachedWorker worker = worker("w1", link);
    names.index("w1", "/var/lib/weft/task-logs/w1");
    Client swept = new Client();
    long sweptId = relays.newRequestId();
    relays.start(sweptId, outbox(swept, sweptId), worker, request(), "/var/lib/weft/task-logs/w1");
    relays.chunk(
        worker,
        LogChunk.newBuilder().setRequestId(sweptId).setEof(true).setError("no log kept").build());
    Client lost = new Client();
    long lostId = relays.newRequestId();
    relays.start(lostId, outbox(lost, lostId), worker, request(), "/var/lib/weft/task-logs/w1");
    relays.workerGone(worker, names);
    outboxes.run();

    assertEquals(Status.Code.NOT_FOUND, swept.error.getCode());
    assertEquals("worker w1 no longer keeps the log: no log kept", swept.error.getDescription());
    assertEquals(Status.Code.ABORTED, lost.error.getCode());
    assertEquals(
        "worker w1 went away while sending the log; it stays in /var/lib/weft/task-logs/w1 on its"
            + " host until the worker's retention sweeps it",
        lost.error.getDescription());
  }

  @Test
  void aClientThatGoesAwayStopsTheWorker() {
    Link link = new Link();
    AttachedWorker worker = worker("w1", link);
    Client client = new Client();
    long id = relays.newRequestId();
    relays.start(id, outbox(client, id), worker, request(), "");
    relays.cancel(id);
    assertEquals(id, link.sent.getLast().getLogCancel().getRequestId());
    relays.chunk(worker, chunk(id, "late", 0, true));
    outboxes.run();
    assertTrue(client.chunks.isEmpty());
  }
}
