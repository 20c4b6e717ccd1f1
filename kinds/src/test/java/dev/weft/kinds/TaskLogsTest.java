package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.base.Suppliers;
import com.google.protobuf.ByteString;
import dev.weft.posix.ProcessStat;
import dev.weft.v1.ExecParams;
import dev.weft.v1.JobSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskLogsTest {
  private static final Instant NOW = Instant.parse("2026-01-02T03:04:05Z");

  @TempDir Path dir;
  @TempDir Path registryBase;

  /** The whole of what a log keeps of a stream, read chunk by chunk from offset 0. */
  private static byte[] readAll(TaskLogs logs, String job, int task, int attempt, LogStream stream)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long offset = 0;
    while (true) {
      TaskLogChunk chunk =
          logs.read(job, task, attempt, stream, offset, TaskLogs.MAX_CHUNK).orElseThrow();
      if (out.size() == 0) {
        assertEquals(chunk.first(), chunk.offset(), "reading starts at the oldest byte kept");
      } else {
        assertEquals(offset, chunk.offset(), "chunks follow one another");
      }
      if (chunk.data().length == 0) {
        return out.toByteArray();
      }
      assertTrue(chunk.data().length <= TaskLogs.MAX_CHUNK);
      out.write(chunk.data());
      offset = chunk.offset() + chunk.data().length;
    }
  }

  private ExecKind execKind() {
    ProcessStat self = ProcessStat.self();
    TaskProcessGroups registry =
        new TaskProcessGroups(
            registryBase,
            ProcessStat.ownerUid(self.pid()).orElseThrow(),
            self.pid(),
            self.startTicks());
    return new ExecKind(
        GroupLauncher::systemDefault,
        () -> registry,
        Suppliers.memoize(TaskCgroups::forThisProcess));
  }

  /**
   * A context whose logs go to {@code logs} as attempt {@code attempt} of task 0 of {@code job}.
   */
  private static TaskContext loggingContext(TaskLogs logs, String job, int attempt) {
    return new TaskContext() {
      @Override
      public boolean isCancelled() {
        return false;
      }

      @Override
      public void onCancel(Runnable action) {}

      @Override
      public long graceMs() {
        return 1_000;
      }

      @Override
      public TaskLogSink openLog(LogStream stream) {
        try {
          return logs.open(job, 0, attempt, stream);
        } catch (IOException e) {
          throw new AssertionError("opening the log failed", e);
        }
      }
    };
  }

  @Test
  void execTaskPrintingThreeMebibytesKeepsExactlyItsLastMebibyte() throws Exception {
    TaskLogs logs = TaskLogs.open(dir.resolve("logs"), TaskLogs.DEFAULT_MAX_BYTES);
    int lines = 500_000;
    // seq's output, computed here: the numbers 1..lines, one a line.
    StringBuilder expected = new StringBuilder();
    for (int i = 1; i <= lines; i++) {
      expected.append(i).append('\n');
    }
    byte[] all = expected.toString().getBytes(StandardCharsets.US_ASCII);
    assertTrue(all.length > 3 * TaskLogs.DEFAULT_MAX_BYTES, "the task prints more than 3 MiB");
    ExecKind kind = execKind();
    ByteString input =
        kind.plan(
                JobSpec.newBuilder()
                    .setExec(
                        ExecParams.newBuilder()
                            .addAllCommand(
                                List.of("sh", "-c", "seq 1 " + lines + "; printf oops >&2")))
                    .build())
            .input(0);

    kind.run(input, loggingContext(logs, "job-1", 1));

    byte[] kept = readAll(logs, "job-1", 0, 1, LogStream.STDOUT);
    assertEquals(TaskLogs.DEFAULT_MAX_BYTES, kept.length);
    assertArrayEquals(Arrays.copyOfRange(all, all.length - kept.length, all.length), kept);
    assertArrayEquals(
        "oops".getBytes(StandardCharsets.US_ASCII), readAll(logs, "job-1", 0, 1, LogStream.STDERR));
    TaskLogChunk end = logs.read("job-1", 0, 1, LogStream.STDOUT, Long.MAX_VALUE, 1).orElseThrow();
    assertEquals(all.length, end.end(), "offsets count every byte the task printed");
    assertFalse(end.writing(), "the stream ended with the task");
    long onDisk;
    try (Stream<Path> files = Files.list(logs.attemptDirectory("job-1", 0, 1))) {
      onDisk =
          files
              .filter(f -> f.getFileName().toString().startsWith("stdout."))
              .mapToLong(f -> f.toFile().length())
              .sum();
    }
    assertTrue(onDisk <= 2 * TaskLogs.DEFAULT_MAX_BYTES, "at most two segments: " + onDisk);
  }

  @Test
  void readsFromAnOffsetAndTellsWhereTheStreamIs() throws IOException {
    TaskLogs logs = TaskLogs.open(dir.resolve("logs"), 10);
    TaskLogSink sink = logs.open("j", 2, 3, LogStream.STDOUT);
    byte[] bytes = "abcdefghijklmnopqrstuvwxyz".getBytes(StandardCharsets.US_ASCII);
    sink.write(bytes, 0, 5);
    TaskLogChunk partial = logs.read("j", 2, 3, LogStream.STDOUT, 2, 100).orElseThrow();
    assertEquals("cde", new String(partial.data(), StandardCharsets.US_ASCII));
    assertTrue(partial.writing());
    sink.write(bytes, 5, bytes.length - 5);
    sink.close();
    // The offset asked for is gone: the chunk starts at the oldest byte kept.
    TaskLogChunk late = logs.read("j", 2, 3, LogStream.STDOUT, 2, 100).orElseThrow();
    assertEquals(16, late.offset());
    assertEquals(16, late.first());
    assertEquals(26, late.end());
    assertFalse(late.writing());
    assertEquals("qrst", new String(late.data(), StandardCharsets.US_ASCII), "one segment a read");
    assertTrue(logs.read("j", 2, 4, LogStream.STDOUT, 0, 100).isEmpty(), "no such attempt");
  }

  @Test
  void sweepRemovesLogsOlderThanTheRetentionAndKeepsTheRest() throws IOException {
    TaskLogs logs = TaskLogs.open(dir.resolve("logs"), 100);
    logs.open("old", 0, 1, LogStream.STDOUT).close();
    logs.open("old", 0, 1, LogStream.STDERR).close();
    logs.open("fresh", 0, 1, LogStream.STDOUT).close();
    TaskLogSink running = logs.open("running", 0, 1, LogStream.STDOUT);
    FileTime longAgo = FileTime.from(NOW.minus(Duration.ofHours(25)));
    for (String job : List.of("old", "running")) {
      Path attempt = logs.attemptDirectory(job, 0, 1);
      try (Stream<Path> files = Files.list(attempt)) {
        for (Path file : files.toList()) {
          Files.setLastModifiedTime(file, longAgo);
        }
      }
      Files.setLastModifiedTime(attempt, longAgo);
    }
    Files.setLastModifiedTime(
        logs.attemptDirectory("fresh", 0, 1).resolve("stdout.0"),
        FileTime.from(NOW.minus(Duration.ofHours(23))));
    Files.setLastModifiedTime(
        logs.attemptDirectory("fresh", 0, 1), FileTime.from(NOW.minus(Duration.ofHours(30))));

    assertEquals(1, logs.sweep(Duration.ofHours(24), NOW));

    assertFalse(Files.exists(logs.root().resolve("old")), "the job's directory goes with it");
    assertTrue(Files.exists(logs.attemptDirectory("fresh", 0, 1).resolve("stdout.0")));
    assertTrue(
        Files.exists(logs.attemptDirectory("running", 0, 1).resolve("stdout.0")),
        "a log being written is kept however old");
    running.close();
    assertEquals(1, logs.sweep(Duration.ofHours(24), NOW));
    assertEquals(0, logs.sweep(Duration.ofHours(24), NOW));
  }

  @Test
  void namesAreSafeAndDistinct() {
    assertEquals("job-1_x", LogNames.encode("job-1_x"));
    assertEquals("%2E%2E", LogNames.encode(".."));
    assertEquals("%2E", LogNames.encode("."));
    assertEquals("%2E%2E%2F%2E%2E%2Fetc", LogNames.encode("../../etc"));
    assertEquals("a%2Fb", LogNames.encode("a/b"));
    assertEquals("%C3%A9%00", LogNames.encode("\u00e9\0"));
    assertNotEquals(LogNames.encode("a%2Fb"), LogNames.encode("a/b"));
    String longId = "x".repeat(500);
    String name = LogNames.encode(longId);
    assertTrue(name.length() <= LogNames.MAX_NAME, name);
    assertNotEquals(name, LogNames.encode(longId + "y"));
    assertThrows(IllegalArgumentException.class, () -> LogNames.encode(""));
  }

  @Test
  void attemptDirectoriesStayUnderTheRoot() throws IOException {
    TaskLogs logs = TaskLogs.open(dir.resolve("logs"), 100);
    for (String job : List.of("..", "../..", "/etc", "a/../../b", ".hidden")) {
      Path attempt = logs.attemptDirectory(job, 0, 0);
      assertEquals(logs.root(), attempt.getParent().getParent(), job);
      assertFalse(attempt.getParent().getFileName().toString().startsWith("."), job);
    }
    assertThrows(IllegalArgumentException.class, () -> logs.attemptDirectory("j", -1, 0));
  }

  @Test
  void rootIsCreatedOwnerOnlyAndLooserModesAreTightened() throws IOException {
    TaskLogs logs = TaskLogs.open(dir.resolve("a/b/logs"), 100);
    assertEquals(
        "rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(logs.root())));
    logs.open("j", 0, 0, LogStream.STDOUT).close();
    assertEquals(
        "rwx------",
        PosixFilePermissions.toString(
            Files.getPosixFilePermissions(logs.attemptDirectory("j", 0, 0))));
    assertEquals(
        "rw-------",
        PosixFilePermissions.toString(
            Files.getPosixFilePermissions(logs.attemptDirectory("j", 0, 0).resolve("stdout.0"))));
    Path loose = Files.createDirectory(dir.resolve("loose"));
    Files.setPosixFilePermissions(loose, PosixFilePermissions.fromString("rwxrwxrwx"));
    TaskLogs.open(loose, 100);
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(loose)));
  }

  @Test
  void symbolicLinksAreNeverFollowed() throws IOException {
    Path outside = Files.createDirectory(dir.resolve("outside"));
    Path linkedRoot = Files.createSymbolicLink(dir.resolve("linked"), outside);
    IOException root = assertThrows(IOException.class, () -> TaskLogs.open(linkedRoot, 100));
    assertTrue(root.getMessage().contains("symbolic link"), root.getMessage());

    TaskLogs logs = TaskLogs.open(dir.resolve("logs"), 100);
    Files.createSymbolicLink(logs.root().resolve(LogNames.encode("planted")), outside);
    IOException job =
        assertThrows(IOException.class, () -> logs.open("planted", 0, 0, LogStream.STDOUT));
    assertTrue(job.getMessage().contains("symbolic link"), job.getMessage());

    Path target = Files.writeString(outside.resolve("target"), "keep me");
    Path attempt = logs.attemptDirectory("j", 0, 0);
    logs.open("j", 0, 0, LogStream.STDERR).close();
    Files.createSymbolicLink(attempt.resolve("stdout.0"), target);
    assertThrows(IOException.class, () -> logs.open("j", 0, 0, LogStream.STDOUT));
    assertEquals("keep me", Files.readString(target));

    // The sweep deletes the links themselves, never what they point to.
    Files.setLastModifiedTime(attempt.resolve("stderr.0"), FileTime.from(NOW.minusSeconds(100)));
    Files.setLastModifiedTime(attempt, FileTime.from(NOW.minusSeconds(100)));
    assertEquals(1, logs.sweep(Duration.ofSeconds(10), NOW.plus(Duration.ofDays(3650))));
    assertEquals("keep me", Files.readString(target));
    assertTrue(Files.exists(outside, LinkOption.NOFOLLOW_LINKS));
  }
}
