package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.google.protobuf.ByteString;
import dev.weft.v1.HashParams;
import dev.weft.v1.HashResult;
import dev.weft.v1.HashTask;
import dev.weft.v1.HashTaskOutput;
import dev.weft.v1.JobResult;
import dev.weft.v1.JobSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HashKindTest {
  private final HashKind kind = new HashKind();
  private static final HexFormat HEX = HexFormat.of();

  @TempDir Path dir;

  private static JobSpec spec(Path path, long chunkBytes) {
    return JobSpec.newBuilder()
        .setHash(HashParams.newBuilder().setPath(path.toString()).setChunkBytes(chunkBytes))
        .build();
  }

  private Path file(String name, int size) throws IOException {
    byte[] bytes = new byte[size];
    new SplittableRandom(size).nextBytes(bytes);
    return Files.write(dir.resolve(name), bytes);
  }

  /**
   * What the job must compute, straight from MessageDigest: chunks of {@code chunk} bytes, a last
   * one shorter than 4096 bytes joined to the one before.
   */
  private static HashResult expected(byte[] content, int chunk) {
    MessageDigest overall = HashKind.sha256();
    HashResult.Builder result = HashResult.newBuilder().setBytes(content.length);
    int start = 0;
    do {
      int end = Math.min(content.length, start + chunk);
      if (content.length - end < 4096) {
        end = content.length;
      }
      byte[] digest = HashKind.sha256().digest(Arrays.copyOfRange(content, start, end));
      result.addChunkSha256(HEX.formatHex(digest));
      overall.update(digest);
      start = end;
    } while (start < content.length);
    return result.setSha256(HEX.formatHex(overall.digest())).build();
  }

  @Test
  void hashesChunksInFileOrder() throws Exception {
    Path path = file("data", 14_500);
    JobSpec spec = spec(path, 5000);
    TaskPlan plan = kind.plan(spec);
    assertEquals(3, plan.taskCount());
    assertEquals("bytes 0..4999", plan.describe(0));
    assertEquals("bytes 10000..14499", plan.describe(2));
    byte[] content = Files.readAllBytes(path);
    assertEquals(
        ByteString.copyFrom(content, 10_000, 4500), HashTask.parseFrom(plan.input(2)).getData());

    List<ByteString> outputs = KindHarness.runTasks(kind, plan);
    JobResult result = KindHarness.reduce(kind, spec, plan, outputs, 3);
    assertEquals(expected(content, 5000), result.getHash());
    assertEquals(result.getHash().getSha256() + " (14500 bytes in 3 chunks)", result.getSummary());
  }

  @Test
  void aShortLastChunkJoinsTheOneBefore() throws Exception {
    Path path = file("data", 14_000);
    JobSpec spec = spec(path, 5000);
    TaskPlan plan = kind.plan(spec);
    assertEquals(2, plan.taskCount());
    assertEquals("bytes 5000..13999", plan.describe(1));
    byte[] content = Files.readAllBytes(path);
    assertEquals(
        ByteString.copyFrom(content, 5000, 9000), HashTask.parseFrom(plan.input(1)).getData());
    JobResult result = KindHarness.runJob(kind, spec);
    byte[] last = HashKind.sha256().digest(Arrays.copyOfRange(content, 5000, 14_000));
    assertEquals(HEX.formatHex(last), result.getHash().getChunkSha256(1));
    assertEquals(expected(content, 5000), result.getHash());
  }

  @Test
  void oneChunkHashIsTheDigestOfTheFileDigest() throws Exception {
    Path path = file("small", 100);
    JobResult result = KindHarness.runJob(kind, spec(path, 0));
    byte[] fileDigest = HashKind.sha256().digest(Files.readAllBytes(path));
    assertEquals(List.of(HEX.formatHex(fileDigest)), result.getHash().getChunkSha256List());
    assertEquals(HEX.formatHex(HashKind.sha256().digest(fileDigest)), result.getHash().getSha256());
  }

  @Test
  void defaultChunkIsOneMebibyte() throws Exception {
    Path path = file("big", 2 * HashKind.DEFAULT_CHUNK_BYTES + 5000);
    JobSpec spec = spec(path, 0);
    assertEquals(3, kind.plan(spec).taskCount());
    assertEquals(
        expected(Files.readAllBytes(path), HashKind.DEFAULT_CHUNK_BYTES),
        KindHarness.runJob(kind, spec).getHash());
  }

  @Test
  void taskSizeOverridesChunkBytes() throws Exception {
    Path path = file("data", 20_000);
    JobSpec spec = spec(path, 8192).toBuilder().setTaskSize(5000).build();
    assertEquals(4, kind.plan(spec).taskCount());
    assertEquals(
        expected(Files.readAllBytes(path), 5000), KindHarness.runJob(kind, spec).getHash());
  }

  @Test
  void tasksSplitTheFileEvenly() throws Exception {
    Path path = file("data", 30_001);
    JobSpec spec = spec(path, 0).toBuilder().setTasks(3).build();
    TaskPlan plan = kind.plan(spec);
    assertEquals(3, plan.taskCount());
    assertEquals("bytes 0..10000", plan.describe(0));
    assertEquals("bytes 10001..20000", plan.describe(1));
    assertEquals("bytes 20001..30000", plan.describe(2));
    assertEquals(30_001, KindHarness.runJob(kind, spec).getHash().getBytes());
  }

  @Test
  void emptyFileIsOneEmptyTask() throws Exception {
    Path path = file("empty", 0);
    JobSpec spec = spec(path, 0);
    TaskPlan plan = kind.plan(spec);
    assertEquals(1, plan.taskCount());
    assertEquals(ByteString.EMPTY, HashTask.parseFrom(plan.input(0)).getData());
    HashResult result = KindHarness.runJob(kind, spec).getHash();
    assertEquals(expected(new byte[0], 1), result);
    assertEquals(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        result.getChunkSha256(0));
    assertEquals(0, result.getBytes());
  }

  @Test
  void fileThatChangedSizeSincePlanningIsAnError() throws Exception {
    Path path = file("data", 20_000);
    TaskPlan plan = kind.plan(spec(path, 4096));
    Files.write(path, new byte[50]);
    IOException e = assertThrows(IOException.class, () -> plan.input(3));
    assertTrue(e.getMessage().endsWith("is 50 bytes, but was 20000 when the job was planned"));
  }

  @Test
  void reductionChecksDigestsAndIgnoresDuplicates() throws Exception {
    Path path = file("data", 10_000);
    JobSpec spec = spec(path, 5000);
    TaskPlan plan = kind.plan(spec);
    List<ByteString> outputs = new ArrayList<>(KindHarness.runTasks(kind, plan));
    JobReduction reduction = kind.reduction(spec, plan);
    InvalidTaskOutputException e =
        assertThrows(
            InvalidTaskOutputException.class,
            () ->
                reduction.add(
                    0,
                    HashTaskOutput.newBuilder()
                        .setSha256(ByteString.copyFromUtf8("short"))
                        .build()
                        .toByteString()));
    assertEquals("hash task 0: a SHA-256 digest has 32 bytes, got 5", e.getMessage());
    reduction.add(1, outputs.get(1));
    reduction.add(0, outputs.get(0));
    reduction.add(0, outputs.get(1));
    assertEquals(expected(Files.readAllBytes(path), 5000), reduction.result().getHash());
  }

  @Test
  void cancelledTaskStops() throws Exception {
    Path path = file("data", 100);
    ByteString input = kind.plan(spec(path, 0)).input(0);
    TestContext context = new TestContext();
    context.cancel();
    assertThrows(InterruptedException.class, () -> kind.run(input, context));
  }

  @Test
  void rejectsBadPaths() throws Exception {
    assertInvalid("hash.path: must name a file (got an empty path)", spec(Path.of(""), 0));
    Path missing = dir.resolve("missing");
    assertInvalid("hash.path: no such file: " + missing, spec(missing, 0));
    assertInvalid("hash.path: is a directory: " + dir, spec(dir, 0));
    assertInvalid("hash.path: not a regular file: /dev/null", spec(Path.of("/dev/null"), 0));
  }

  @Test
  void rejectsUnreadableFiles() throws Exception {
    assumeFalse("root".equals(System.getProperty("user.name")), "root can read any file");
    Path secret = file("secret", 10);
    Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("-w-------"));
    assertInvalid("hash.path: not readable: " + secret, spec(secret, 0));
  }

  @Test
  void rejectsBadChunkSizes() throws Exception {
    Path path = file("data", 100);
    assertInvalid(
        "hash.chunk_bytes: must be between 4096 and 67108864, or 0 for the default 1048576"
            + " (got -1)",
        spec(path, -1));
    assertInvalid(
        "hash.chunk_bytes: must be between 4096 and 67108864, or 0 for the default 1048576"
            + " (got 67108865)",
        spec(path, 64 * 1024 * 1024 + 1));
    assertInvalid(
        "task_size: must be between 4096 and 67108864 for hash jobs (got 67108865)",
        spec(path, 0).toBuilder().setTaskSize(64 * 1024 * 1024 + 1).build());
    assertInvalid(
        "tasks: set tasks or hash.chunk_bytes, not both",
        spec(path, 8192).toBuilder().setTasks(2).build());
  }

  @Test
  void chunksOfFewBytesAreRefused() throws Exception {
    Path path = file("data", 10_000);
    assertInvalid(
        "task_size: must be between 4096 and 67108864 for hash jobs (got 1) (the digests of"
            + " smaller chunks would give their bytes away)",
        spec(path, 0).toBuilder().setTaskSize(1).build());
    assertInvalid(
        "hash.chunk_bytes: must be between 4096 and 67108864, or 0 for the default 1048576"
            + " (got 4095) (the digests of smaller chunks would give their bytes away)",
        spec(path, 4095));
    assertInvalid(
        "tasks: 3 tasks give chunks of 3333 bytes of this 10000-byte file; chunks must be at"
            + " least 4096 bytes (the digests of smaller chunks would give their bytes away), so"
            + " tasks must be <= 2",
        spec(path, 0).toBuilder().setTasks(3).build());
    // A file smaller than a chunk is one chunk: its digest is the file's, which is the job.
    Path small = file("small", 10);
    assertInvalid(
        "tasks: 10 tasks give chunks of 1 bytes of this 10-byte file; chunks must be at least"
            + " 4096 bytes (the digests of smaller chunks would give their bytes away), so tasks"
            + " must be <= 1",
        spec(small, 0).toBuilder().setTasks(10).build());
    assertEquals(1, kind.plan(spec(small, 0).toBuilder().setTasks(1).build()).taskCount());
  }

  @Test
  void aLinkIsRefusedAndAPlanReadsTheFileItOpened() throws Exception {
    Path real = Files.createDirectory(dir.resolve("real"));
    Path data = file("data", 10_000);
    Files.move(data, real.resolve("data"));
    Path other = Files.createDirectory(dir.resolve("other"));
    Files.write(other.resolve("data"), new byte[10_000]);
    // The last part a link, and a directory on the way a link: both refused.
    Path fileLink = Files.createSymbolicLink(dir.resolve("file-link"), real.resolve("data"));
    assertInvalid(
        "hash.path: is a symbolic link: "
            + fileLink
            + "; hash jobs read files by their own path, not links",
        spec(fileLink, 0));
    Path dirLink = Files.createSymbolicLink(dir.resolve("dir-link"), real);
    assertInvalid(
        "hash.path: not read: "
            + dirLink.resolve("data")
            + " led to "
            + real.resolve("data")
            + " (a symbolic link, or it changed while it was opened); hash jobs read files, not"
            + " links",
        spec(dirLink.resolve("data"), 0));

    // Planned, then the directory is swapped for a link elsewhere: the plan reads what it opened.
    byte[] content = Files.readAllBytes(real.resolve("data"));
    JobSpec spec = spec(real.resolve("data"), 4096);
    try (TaskPlan plan = kind.plan(spec)) {
      Files.move(real, dir.resolve("moved-away"));
      Files.createSymbolicLink(real, other);
      assertEquals(
          ByteString.copyFrom(content, 0, 4096), HashTask.parseFrom(plan.input(0)).getData());
    }
  }

  @Test
  void closingAPlanClosesItsFile() throws Exception {
    Path path = file("data", 10_000);
    List<TaskPlan> plans = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      plans.add(kind.plan(spec(path, 0)));
    }
    assertEquals(20, descriptorsOpenOn(path));
    plans.forEach(TaskPlan::close);
    assertEquals(0, descriptorsOpenOn(path));
    assertThrows(java.nio.channels.ClosedChannelException.class, () -> plans.getFirst().input(0));
  }

  /** How many of this process's descriptors are open on {@code file}. */
  static long descriptorsOpenOn(Path file) throws IOException {
    long count = 0;
    try (var fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (Path fd : fds) {
        try {
          if (Files.readSymbolicLink(fd).equals(file)) {
            count++;
          }
        } catch (java.nio.file.NoSuchFileException closedMeanwhile) {
          // the listing's own descriptor, or another thread's, closed since
        }
      }
    }
    return count;
  }

  @Test
  void rejectsChunksThatMakeTooManyTasks() throws Exception {
    Path sparse = dir.resolve("sparse");
    try (var channel =
        java.nio.channels.FileChannel.open(
            sparse,
            java.nio.file.StandardOpenOption.CREATE_NEW,
            java.nio.file.StandardOpenOption.WRITE)) {
      channel.write(java.nio.ByteBuffer.wrap(new byte[1]), 5_000_000_000L - 1);
    }
    assertInvalid(
        "hash.chunk_bytes: chunks of 4096 bytes give 1220704 tasks for 5000000000 bytes; at most"
            + " 1000000 tasks per job, so chunks must be >= 5000 bytes",
        spec(sparse, 4096));
  }

  @Test
  void rejectsTasksThatMakeChunksTooLarge() throws Exception {
    Path sparse = dir.resolve("sparse");
    try (var channel =
        java.nio.channels.FileChannel.open(
            sparse,
            java.nio.file.StandardOpenOption.CREATE_NEW,
            java.nio.file.StandardOpenOption.WRITE)) {
      channel.truncate(0);
      channel.write(java.nio.ByteBuffer.wrap(new byte[1]), 200L * 1024 * 1024);
    }
    assertInvalid(
        "tasks: 2 tasks give chunks of 104857601 bytes; at most 67108864 bytes per chunk, so"
            + " tasks must be >= 4",
        spec(sparse, 0).toBuilder().setTasks(2).build());
  }

  private void assertInvalid(String message, JobSpec spec) {
    InvalidJobException e = assertThrows(InvalidJobException.class, () -> kind.plan(spec));
    assertEquals(message, e.getMessage());
    assertTrue(message.startsWith(e.field() + ": "));
  }
}
