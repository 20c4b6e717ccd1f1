package dev.weft.worker;

import com.google.protobuf.ByteString;
import dev.weft.kinds.LogStream;
import dev.weft.kinds.TaskLogChunk;
import dev.weft.kinds.TaskLogs;
import dev.weft.v1.LogChunk;
import dev.weft.v1.LogRequest;
import dev.weft.v1.TaskLogStream;
import dev.weft.v1.WorkerMessage;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Answers the coordinator's log requests of one session from the worker's task logs. Each request
 * is read on a virtual thread of its own, never on the link's reader; it sends no more chunks than
 * the coordinator has room for (the request's window, renewed by acks), so a slow client paces only
 * its own request. A following request polls the log for new bytes until the attempt stops writing
 * it.
 */
final class LogServer {
  private static final System.Logger LOG = System.getLogger(LogServer.class.getName());
  private static final long FOLLOW_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  private final TaskLogs logs; // null when the worker keeps none
  private final Consumer<WorkerMessage> link;
  private final Map<Long, Request> requests = new ConcurrentHashMap<>();

  LogServer(TaskLogs logs, Consumer<WorkerMessage> link) {
    this.logs = logs;
    this.link = link;
  }

  private static final class Request {
    // Chunks it may still send before the coordinator acknowledges more.
    private final Semaphore credits;
    private volatile boolean cancelled;
    private volatile Thread reader;

    private Request(int window) {
      this.credits = new Semaphore(window);
    }
  }

  void request(LogRequest request) {
    if (request.getWindow() < 1) {
      send(last(request.getRequestId(), "a log request needs a window of at least one chunk"));
      return;
    }
    Request started = new Request(request.getWindow());
    if (requests.putIfAbsent(request.getRequestId(), started) != null) {
      send(last(request.getRequestId(), "request " + request.getRequestId() + " is already open"));
      return;
    }
    started.reader =
        Thread.ofVirtual()
            .name("weft-log-" + request.getRequestId())
            .start(() -> serve(request, started));
  }

  /** The coordinator's client took {@code chunks} more of the request's chunks. */
  void ack(long requestId, int chunks) {
    Request request = requests.get(requestId);
    if (request != null && chunks > 0) {
      request.credits.release(chunks);
    }
  }

  void cancel(long requestId) {
    Request request = requests.remove(requestId);
    if (request != null) {
      request.cancelled = true;
      Thread reader = request.reader;
      if (reader != null) {
        LockSupport.unpark(reader);
      }
    }
  }

  /** The session ended: every request stops. */
  void cancelAll() {
    requests.keySet().forEach(this::cancel);
  }

  private void serve(LogRequest request, Request state) {
    long id = request.getRequestId();
    try {
      if (logs == null) {
        send(
            last(
                id,
                "this worker keeps no task logs (--task-log-bytes 0, or its --log-dir was unusable)"));
        return;
      }
      LogStream stream =
          request.getStream() == TaskLogStream.TASK_LOG_STDERR
              ? LogStream.STDERR
              : LogStream.STDOUT;
      long offset = request.getOffset();
      while (!state.cancelled) {
        Optional<TaskLogChunk> read =
            logs.read(
                request.getJobId(),
                request.getTask(),
                request.getAttempt(),
                stream,
                offset,
                TaskLogs.MAX_CHUNK);
        if (read.isEmpty()) {
          send(
              last(
                  id,
                  "no log of "
                      + request.getJobId()
                      + " task "
                      + request.getTask()
                      + " attempt "
                      + request.getAttempt()
                      + " is kept in "
                      + logs.root()
                      + " (swept after the retention, or never written here)"));
          return;
        }
        TaskLogChunk chunk = read.get();
        offset = chunk.offset() + chunk.data().length;
        if (chunk.data().length > 0) {
          if (!awaitCredit(state)) {
            return;
          }
          send(chunk(id, chunk, false));
          continue;
        }
        if (!request.getFollow() || !chunk.writing()) {
          send(chunk(id, chunk, true));
          return;
        }
        LockSupport.parkNanos(FOLLOW_POLL_NANOS);
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "reading a task log failed", e);
      send(last(id, "reading the log failed: " + e.getMessage()));
    } finally {
      requests.remove(id, state);
    }
  }

  /**
   * Waits until the coordinator has room for another chunk; false when the request was cancelled
   * meanwhile (or the thread interrupted, which only the worker's end does).
   */
  private static boolean awaitCredit(Request state) {
    try {
      while (!state.credits.tryAcquire(FOLLOW_POLL_NANOS, TimeUnit.NANOSECONDS)) {
        if (state.cancelled) {
          return false;
        }
      }
      return !state.cancelled;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static WorkerMessage chunk(long id, TaskLogChunk chunk, boolean eof) {
    return WorkerMessage.newBuilder()
        .setLogChunk(
            LogChunk.newBuilder()
                .setRequestId(id)
                .setData(ByteString.copyFrom(chunk.data()))
                .setOffset(chunk.offset())
                .setEof(eof))
        .build();
  }

  private static WorkerMessage last(long id, String error) {
    return WorkerMessage.newBuilder()
        .setLogChunk(LogChunk.newBuilder().setRequestId(id).setEof(true).setError(error))
        .build();
  }

  private void send(WorkerMessage message) {
    link.accept(message);
  }
}
