package dev.weft.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.kinds.LogStream;
import dev.weft.kinds.TaskLogSink;
import dev.weft.kinds.TaskLogs;
import dev.weft.v1.LogChunk;
import dev.weft.v1.LogRequest;
import dev.weft.v1.TaskLogStream;
import dev.weft.v1.WorkerMessage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogServerTest {
  private static final long DEADLINE_MS = 10_000;

  @TempDir Path dir;

  private final BlockingQueue<LogChunk> sent = new LinkedBlockingQueue<>();

  private void collect(WorkerMessage message) {
    sent.add(message.getLogChunk());
  }

  private LogChunk next() throws InterruptedException {
    LogChunk chunk = sent.poll(DEADLINE_MS, TimeUnit.MILLISECONDS);
    assertNotNull(chunk, "no chunk within " + DEADLINE_MS + " ms");
    return chunk;
  }

  private static LogRequest request(long id, boolean follow, int window) {
    return LogRequest.newBuilder()
        .setRequestId(id)
        .setJobId("j1")
        .setTask(0)
        .setAttempt(1)
        .setStream(TaskLogStream.TASK_LOG_STDOUT)
        .setFollow(follow)
        .setWindow(window)
        .build();
  }

  @Test
  void sendsNoMoreChunksThanItsWindowUntilAcknowledged() throws Exception {
    TaskLogs logs = TaskLogs.open(dir, 1 << 20);
    TaskLogSink sink = logs.open("j1", 0, 1, LogStream.STDOUT);
    byte[] bytes = new byte[3 * TaskLogs.MAX_CHUNK + 5];
    sink.write(bytes, 0, bytes.length);
    sink.close();
    LogServer server = new LogServer(logs, this::collect);

    server.request(request(7, false, 2));
    assertEquals(0, next().getOffset());
    assertEquals(TaskLogs.MAX_CHUNK, next().getOffset());
    assertNull(sent.poll(300, TimeUnit.MILLISECONDS), "a third chunk before any ack");
    server.ack(7, 5);
    assertEquals(2L * TaskLogs.MAX_CHUNK, next().getOffset());
    LogChunk tail = next();
    assertEquals(5, tail.getData().size());
    LogChunk last = next();
    assertTrue(last.getEof());
    assertEquals(bytes.length, last.getOffset());
    assertEquals("", last.getError());
  }

  @Test
  void followsUntilTheStreamIsClosed() throws Exception {
    TaskLogs logs = TaskLogs.open(dir, 1 << 20);
    TaskLogSink sink = logs.open("j1", 0, 1, LogStream.STDOUT);
    LogServer server = new LogServer(logs, this::collect);
    server.request(request(1, true, 8));
    assertNull(sent.poll(300, TimeUnit.MILLISECONDS), "nothing written yet, nothing sent");
    byte[] line = "first\n".getBytes(StandardCharsets.US_ASCII);
    sink.write(line, 0, line.length);
    assertEquals("first\n", next().getData().toStringUtf8());
    sink.close();
    assertTrue(next().getEof());
  }

  @Test
  void aMissingLogAndACancelEndTheRequest() throws Exception {
    TaskLogs logs = TaskLogs.open(dir, 1 << 20);
    LogServer server = new LogServer(logs, this::collect);
    server.request(request(3, false, 1));
    LogChunk missing = next();
    assertTrue(missing.getEof());
    assertTrue(missing.getError().contains("no log of j1 task 0 attempt 1"), missing::toString);

    TaskLogSink sink = logs.open("j1", 0, 1, LogStream.STDOUT);
    server.request(request(4, true, 1));
    server.cancel(4);
    byte[] line = "late\n".getBytes(StandardCharsets.US_ASCII);
    sink.write(line, 0, line.length);
    assertNull(sent.poll(500, TimeUnit.MILLISECONDS), "a cancelled request sends nothing");
    sink.close();
  }
}
