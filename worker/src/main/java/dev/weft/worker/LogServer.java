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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Answers the coordinator's log requests of one session from the worker's task logs. Each request
 * is read on a virtual thread of its own, never on the link's reader, and its chunks go out through
 * the link, whose back-pressure paces the reading. A following request polls the log for new bytes
 * until the attempt stops writing it.
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
    private volatile boolean cancelled;
    private volatile Thread reader;
  }

  void request(LogRequest request) {
    Request started = new Request();
    if (requests.putIfAbsent(request.getRequestId(), started) != null) {
      send(last(request.getRequestId(), "request " + request.getRequestId() + " is already open"));
      return;
    }
    started.reader =
        Thread.ofVirtual()
            .name("weft-log-" + request.getRequestId())
            .start(() -> serve(request, started));
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
