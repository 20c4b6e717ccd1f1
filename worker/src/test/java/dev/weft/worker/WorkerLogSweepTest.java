package dev.weft.worker;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.kinds.LogStream;
import dev.weft.kinds.TaskLogs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkerLogSweepTest {
  private static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(10);

  @TempDir Path dir;

  @Test
  void aStartingWorkerRemovesLogsOlderThanItsRetention() throws Exception {
    Path root = dir.resolve("logs");
    TaskLogs earlier = TaskLogs.open(root, 1024);
    earlier.open("old", 0, 1, LogStream.STDOUT).close();
    earlier.open("recent", 0, 1, LogStream.STDOUT).close();
    Path old = earlier.attemptDirectory("old", 0, 1);
    FileTime twoHoursAgo = FileTime.from(Instant.now().minus(Duration.ofHours(2)));
    Files.setLastModifiedTime(old.resolve("stdout.0"), twoHoursAgo);
    Files.setLastModifiedTime(old, twoHoursAgo);

    // Nothing listens on the port: the worker keeps trying to attach while it sweeps.
    Worker worker =
        Worker.start(
            new WorkerConfig()
                .join("127.0.0.1:1")
                .id("sweeper")
                .slots(1)
                .logDir(root)
                .logRetentionMs(Duration.ofHours(1).toMillis()));
    try {
      long deadline = System.nanoTime() + DEADLINE_NANOS;
      // The attempt's directory goes first, then its job's: wait for both.
      while ((Files.exists(old) || Files.exists(root.resolve("old")))
          && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      }
      assertTrue(!Files.exists(old), "the old attempt's logs are gone");
      assertTrue(!Files.exists(root.resolve("old")), "and its job's directory");
      assertTrue(Files.exists(earlier.attemptDirectory("recent", 0, 1).resolve("stdout.0")));
    } finally {
      worker.close();
    }
  }
}
