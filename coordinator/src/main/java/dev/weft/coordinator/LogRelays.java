package dev.weft.coordinator;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.LogAck;
import dev.weft.v1.LogCancel;
import dev.weft.v1.LogChunk;
import dev.weft.v1.LogRequest;
import dev.weft.v1.TaskLogChunk;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Relays task logs from the workers that keep them to the clients that asked: each TaskLogs call is
 * one request to one worker, whose chunks go into the call's {@link StreamOutbox}. A client that
 * reads too slowly fills only its own outbox; its call then ends with RESOURCE_EXHAUSTED and the
 * worker is told to stop. Conductor thread only, but for {@link #newRequestId}.
 */
final class LogRelays {
  /** Chunks (each at most {@link dev.weft.kinds.TaskLogs#MAX_CHUNK}) waiting for one client. */
  static final int OUTBOX_LIMIT = 64;

  /** Chunks a worker may send ahead of the client: half the outbox, so a window never fills it. */
  static final int WINDOW = OUTBOX_LIMIT / 2;

  /** How long a client may leave the chunks waiting for it untaken before its call ends. */
  static final long STALL_MS = 60_000;

  /** The conductor's time and timers. */
  interface Clock {
    long nanoTime();

    Conductor.Timer schedule(long delayMs, Runnable action);
  }

  private final Clock clock;
  private final AtomicLong nextRequestId = new AtomicLong(1);
  private final Map<Long, Relay> relays = new HashMap<>();

  LogRelays(Clock clock) {
    this.clock = clock;
  }

  private static final class Relay {
    private final StreamOutbox<TaskLogChunk> outbox;
    private final AttachedWorker worker;
    private final String workerId;
    private final int attempt;
    private final String logDir;
    private boolean first = true;
    private long lastTakenNanos;
    private Conductor.Timer stallCheck; // armed while chunks wait for the client

    private Relay(
        StreamOutbox<TaskLogChunk> outbox,
        AttachedWorker worker,
        String workerId,
        int attempt,
        String logDir) {
      this.outbox = outbox;
      this.worker = worker;
      this.workerId = workerId;
      this.attempt = attempt;
      this.logDir = logDir;
    }
  }

  /** An id for a request about to be made; any thread, so a call's cancel handler can name it. */
  long newRequestId() {
    return nextRequestId.getAndIncrement();
  }

  /** Asks {@code worker} for a log on behalf of the client behind {@code outbox}. */
  void start(
      long requestId,
      StreamOutbox<TaskLogChunk> outbox,
      AttachedWorker worker,
      LogRequest request,
      String logDir) {
    relays.put(requestId, new Relay(outbox, worker, worker.id(), request.getAttempt(), logDir));
    worker
        .link()
        .send(
            CoordinatorMessage.newBuilder()
                .setLogRequest(request.toBuilder().setRequestId(requestId).setWindow(WINDOW))
                .build());
  }

  /** A chunk from {@code from}; one of a request that ended already is dropped. */
  void chunk(AttachedWorker from, LogChunk chunk) {
    Relay relay = relays.get(chunk.getRequestId());
    if (relay == null || relay.worker != from) {
      return;
    }
    if (!chunk.getError().isEmpty()) {
      end(chunk.getRequestId(), relay);
      relay.outbox.fail(
          Status.NOT_FOUND.withDescription(
              "worker " + relay.workerId + " no longer keeps the log: " + chunk.getError()));
      return;
    }
    if (!chunk.getData().isEmpty() || relay.first) {
      TaskLogChunk.Builder out =
          TaskLogChunk.newBuilder().setData(chunk.getData()).setOffset(chunk.getOffset());
      if (relay.first) {
        out.setWorkerId(relay.workerId).setAttempt(relay.attempt);
        relay.first = false;
      }
      if (!relay.outbox.offer(out.build())) {
        end(chunk.getRequestId(), relay);
        tellWorkerToStop(relay, chunk.getRequestId());
        relay.outbox.fail(
            Status.RESOURCE_EXHAUSTED.withDescription(
                "worker "
                    + relay.workerId
                    + " sent more of the log than the client had room for ("
                    + OUTBOX_LIMIT
                    + " chunks were waiting for it)"));
        return;
      }
      if (relay.stallCheck == null) {
        armStallCheck(chunk.getRequestId(), relay, STALL_MS);
      }
    }
    if (chunk.getEof()) {
      end(chunk.getRequestId(), relay);
      relay.outbox.finish(null);
    }
  }

  private void armStallCheck(long requestId, Relay relay, long delayMs) {
    relay.stallCheck = clock.schedule(delayMs, () -> checkStall(requestId, relay));
  }

  /** Ends a call whose client has taken nothing for {@link #STALL_MS} while chunks waited. */
  private void checkStall(long requestId, Relay relay) {
    relay.stallCheck = null;
    if (relays.get(requestId) != relay || relay.outbox.queued() == 0) {
      return;
    }
    long idleMs = (clock.nanoTime() - relay.lastTakenNanos) / 1_000_000;
    if (idleMs < STALL_MS) {
      armStallCheck(requestId, relay, STALL_MS - idleMs);
      return;
    }
    end(requestId, relay);
    tellWorkerToStop(relay, requestId);
    relay.outbox.fail(
        Status.RESOURCE_EXHAUSTED.withDescription(
            "the client took none of the log for "
                + idleMs / 1000
                + " s while "
                + relay.outbox.queued()
                + " chunks waited for it"));
  }

  /** Forgets a relay that is over. */
  private void end(long requestId, Relay relay) {
    relays.remove(requestId);
    if (relay.stallCheck != null) {
      relay.stallCheck.cancel();
      relay.stallCheck = null;
    }
  }

  /** The client took {@code chunks} of request {@code requestId}: the worker may send more. */
  void delivered(long requestId, int chunks) {
    Relay relay = relays.get(requestId);
    if (relay == null) {
      return; // ended: the worker sends nothing more
    }
    relay.lastTakenNanos = clock.nanoTime();
    relay
        .worker
        .link()
        .send(
            CoordinatorMessage.newBuilder()
                .setLogAck(LogAck.newBuilder().setRequestId(requestId).setChunks(chunks))
                .build());
  }

  /** The client went away: the worker stops sending. */
  void cancel(long requestId) {
    Relay relay = relays.get(requestId);
    if (relay != null) {
      end(requestId, relay);
      tellWorkerToStop(relay, requestId);
      relay.outbox.close();
    }
  }

  /** {@code worker} is gone: its relays end, saying where the logs stay. */
  void workerGone(AttachedWorker worker, WorkerNames names) {
    List<Long> ended = new ArrayList<>();
    for (Map.Entry<Long, Relay> entry : relays.entrySet()) {
      if (entry.getValue().worker == worker) {
        ended.add(entry.getKey());
      }
    }
    for (long id : ended) {
      Relay relay = relays.get(id);
      end(id, relay);
      // ABORTED, not UNAVAILABLE: clients take that for an unreachable coordinator.
      relay.outbox.fail(
          Status.ABORTED.withDescription(
              "worker "
                  + relay.workerId
                  + " went away while sending the log"
                  + (relay.logDir.isEmpty() ? "" : "; it stays in " + relay.logDir + " on its host")
                  + " until the worker's retention sweeps it"));
    }
  }

  private static void tellWorkerToStop(Relay relay, long requestId) {
    relay
        .worker
        .link()
        .send(
            CoordinatorMessage.newBuilder()
                .setLogCancel(LogCancel.newBuilder().setRequestId(requestId))
                .build());
  }
}
