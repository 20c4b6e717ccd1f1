package dev.weft.cli;

import dev.weft.v1.TaskLogChunk;
import dev.weft.v1.TaskLogStream;
import dev.weft.v1.TaskLogsRequest;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Iterator;

/** Copies one output stream of a task's latest attempt, as its worker kept it, to a stream. */
final class TaskLogReader {
  // A log is at most what a worker keeps per stream; a follow lasts as long as its task runs.
  private static final Duration READ_DEADLINE = Duration.ofMinutes(5);
  private static final Duration FOLLOW_DEADLINE = Duration.ofDays(30);

  private TaskLogReader() {}

  /** What was copied: from which stream offset (older bytes were not kept), and how much. */
  record Copied(long firstOffset, long bytes, String workerId, int attempt) {}

  static Copied copy(
      CoordinatorClient client,
      String job,
      int task,
      TaskLogStream stream,
      boolean follow,
      OutputStream out)
      throws IOException {
    TaskLogsRequest request =
        TaskLogsRequest.newBuilder()
            .setJobId(job)
            .setTask(task)
            .setStream(stream)
            .setFollow(follow)
            .build();
    long first = -1;
    long bytes = 0;
    String worker = "";
    int attempt = 0;
    try {
      Iterator<TaskLogChunk> chunks =
          client.stub(follow ? FOLLOW_DEADLINE : READ_DEADLINE).taskLogs(request);
      while (chunks.hasNext()) {
        TaskLogChunk chunk = chunks.next();
        if (first < 0) {
          first = chunk.getOffset();
          worker = chunk.getWorkerId();
          attempt = chunk.getAttempt();
        }
        chunk.getData().writeTo(out);
        out.flush();
        bytes += chunk.getData().size();
      }
    } catch (StatusRuntimeException e) {
      throw client.failure(e);
    }
    return new Copied(Math.max(first, 0), bytes, worker, attempt);
  }
}
