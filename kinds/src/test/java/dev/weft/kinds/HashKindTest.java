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

  /** What the job must compute, straight from MessageDigest. */
  private static HashResult expected(byte[] content, int chunk) {
    MessageDigest overall = HashKind.sha256();
    HashResult.Builder result = HashResult.newBuilder().setBytes(content.length);
    int start = 0;
    do {
      int end = Math.min(content.length, start + chunk);
      byte[] digest = HashKind.sha256().digest(Arrays.copyOfRange(content, start, end));
      result.addChunkSha256(HEX.formatHex(digest));
      overall.update(digest);
      start = end;
    } while (start < content.length);
    return result.setSha256(HEX.formatHex(overall.digest())).build();
  }

  @Test
  void hashesChunksInFileOrder() throws Exception {
    Path path = file("data", 10_000);
    JobSpec spec = spec(path, 4096);
    TaskPlan plan = kind.plan(spec);
    assertEquals(3, plan.taskCount());
    assertEquals("bytes 0..4095", plan.describe(0));
    assertEquals("bytes 8192..9999", plan.describe(2));
    byte[] content = Files.readAllBytes(path);
    assertEquals(
        ByteString.copyFrom(content, 8192, 1808), HashTask.parseFrom(plan.input(2)).getData());

    List<ByteString> outputs = KindHarness.runTasks(kind, plan);
    JobResult result = KindHarness.reduce(kind, spec, plan, outputs, 3);
    assertEquals(expected(content, 4096), result.getHash());
    assertEquals(result.getHash().getSha256() + " (10000 bytes in 3 chunks)", result.getSummary());
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
    Path path = file("big", 2 * HashKind.DEFAULT_CHUNK_BYTES + 1);
    JobSpec spec = spec(path, 0);
    assertEquals(3, kind.plan(spec).taskCount());
    assertEquals(
        expected(Files.readAllBytes(path), HashKind.DEFAULT_CHUNK_BYTES),
        KindHarness.runJob(kind, spec).getHash());
  }

  @Test
  void taskSizeOverridesChunkBytes() throws Exception {
    Path path = file("data", 1000);
    JobSpec spec = spec(path, 10).toBuilder().setTaskSize(300).build();
    assertEquals(4, kind.plan(spec).taskCount());
    assertEquals(expected(Files.readAllBytes(path), 300), KindHarness.runJob(kind, spec).getHash());
  }

  @Test
  void tasksSplitTheFileEvenly() throws Exception {
    Path path = file("data", 1000);
    JobSpec spec = spec(path, 0).toBuilder().setTasks(3).build();
    TaskPlan plan = kind.plan(spec);
    assertEquals(3, plan.taskCount());
    assertEquals("bytes 0..333", plan.describe(0));
    assertEquals("bytes 334..666", plan.describe(1));
    assertEquals("bytes 667..999", plan.describe(2));
    assertEquals(1000, KindHarness.runJob(kind, spec).getHash().getBytes());
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
    Path path = file("data", 100);
    TaskPlan plan = kind.plan(spec(path, 10));
    Files.write(path, new byte[50]);
    IOException e = assertThrows(IOException.class, () -> plan.input(9));
    assertTrue(e.getMessage().endsWith("is 50 bytes, but was 100 when the job was planned"));
  }

  @Test
  void reductionChecksDigestsAndIgnoresDuplicates() throws Exception {
    Path path = file("data", 20);
    JobSpec spec = spec(path, 10);
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
    assertEquals(expected(Files.readAllBytes(path), 10), reduction.result().getHash());
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
        "hash.chunk_bytes: must be between 1 and 67108864, or 0 for the default 1048576 (got -1)",
        spec(path, -1));
    assertInvalid(
        "hash.chunk_bytes: must be between 1 and 67108864, or 0 for the default 1048576"
            + " (got 67108865)",
        spec(path, 64 * 1024 * 1024 + 1));
    assertInvalid(
        "task_size: must be between 1 and 67108864 for hash jobs (got 67108865)",
        spec(path, 0).toBuilder().setTaskSize(64 * 1024 * 1024 + 1).build());
    assertInvalid(
        "tasks: set tasks or hash.chunk_bytes, not both",
        spec(path, 10).toBuilder().setTasks(2).build());
    assertInvalid(
        "hash.chunk_bytes: chunks of 1 bytes give 2000000 tasks for 2000000 bytes; at most"
            + " 1000000 tasks per job, so chunks must be >= 2 bytes",
        spec(file("two-megabytes", 2_000_000), 1));
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
