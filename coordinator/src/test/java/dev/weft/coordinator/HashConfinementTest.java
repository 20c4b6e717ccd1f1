package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.kinds.JobKinds;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.HashParams;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.SubmitJobRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a {@code hash} job may read, through the JobService: nothing without a root, never the data
 * dir, never chunks small enough to give bytes away, and always the file that was checked, whatever
 * happens to its name afterwards.
 */
class HashConfinementTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final JobKinds KINDS = JobKinds.load();
  private static final int CHUNK = 4096;

  @TempDir private Path root;
  private final List<AutoCloseable> open = new ArrayList<>();
  private Coordinator coordinator;
  private ManagedChannel channel;

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  /** A coordinator reading under {@code roots}, with its data dir in {@code root/data}. */
  private JobServiceGrpc.JobServiceBlockingStub start(List<Path> roots) throws IOException {
    String name = InProcessServerBuilder.generateName();
    Coordinator coordinator =
        Coordinator.start(
            new CoordinatorConfig()
                .heartbeatIntervalMs(100)
                .leaseMs(1_000)
                .dataDir(root.resolve("data"))
                .hashRoots(roots),
            InProcessServerBuilder.forName(name),
            name);
    open.add(coordinator);
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    open.add(
        () -> {
          channel.shutdownNow();
          channel.awaitTermination(5, TimeUnit.SECONDS);
        });
    this.channel = channel;
    this.coordinator = coordinator;
    return JobServiceGrpc.newBlockingStub(channel);
  }

  private void runningWorker() {
    TestWorker worker =
        new TestWorker(channel, "w1", 2, List.copyOf(KINDS.names()), JobServiceTest::run);
    open.add(worker);
  }

  private static Job submit(JobServiceGrpc.JobServiceBlockingStub jobs, JobSpec spec) {
    return jobs.withDeadlineAfter(10, TimeUnit.SECONDS)
        .submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build());
  }

  private static Job get(JobServiceGrpc.JobServiceBlockingStub jobs, String id) {
    return jobs.withDeadlineAfter(10, TimeUnit.SECONDS)
        .getJob(GetJobRequest.newBuilder().setId(id).build());
  }

  private static Job await(JobServiceGrpc.JobServiceBlockingStub jobs, String id, JobState state) {
    Await.until(() -> get(jobs, id).getState() == state, "job " + id + " to reach " + state, WAIT);
    return get(jobs, id);
  }

  private static JobSpec hash(Path path, long chunkBytes) {
    return JobSpec.newBuilder()
        .setHash(HashParams.newBuilder().setPath(path.toString()).setChunkBytes(chunkBytes))
        .build();
  }

  private static void assertRefused(
      Status.Code code, String description, JobServiceGrpc.JobServiceBlockingStub jobs, JobSpec s) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> submit(jobs, s));
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals(description, e.getStatus().getDescription());
  }

  private Path file(Path where, int size, long seed) throws IOException {
    byte[] bytes = new byte[size];
    new SplittableRandom(seed).nextBytes(bytes);
    Files.createDirectories(where.getParent());
    return Files.write(where, bytes);
  }

  /** The job's result computed from the bytes with MessageDigest: chunks of CHUNK bytes. */
  private static String expectedSha256(byte[] content) {
    MessageDigest overall = sha256();
    for (int start = 0; start < content.length; start += CHUNK) {
      overall.update(
          sha256()
              .digest(Arrays.copyOfRange(content, start, Math.min(content.length, start + CHUNK))));
    }
    return HexFormat.of().formatHex(overall.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  /** How many of this process's descriptors are open on {@code file}. */
  private static long descriptorsOpenOn(Path file) throws IOException {
    long count = 0;
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (Path fd : fds) {
        try {
          if (Files.readSymbolicLink(fd).equals(file)) {
            count++;
          }
        } catch (NoSuchFileException closedMeanwhile) {
          // the listing's own descriptor, or another thread's, closed since
        }
      }
    }
    return count;
  }

  @Test
  void withoutAHashRootHashJobsAreRefused() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub jobs = start(List.of());
    Path inside = file(root.resolve("a.bin"), 10_000, 1);
    assertRefused(
        Status.Code.FAILED_PRECONDITION,
        "hash jobs need `--hash-root DIR` on the coordinator: it reads no file until it is told"
            + " under which directories it may",
        jobs,
        hash(inside, 0));
  }

  @Test
  void theDataDirIsNeverReadableEvenUnderARoot() throws Exception {
    Path realRoot = root.toRealPath();
    JobServiceGrpc.JobServiceBlockingStub jobs = start(List.of(root));
    Path journal = realRoot.resolve("data").resolve("journal.db");
    assertTrue(Files.isRegularFile(journal), "the coordinator keeps its journal there");
    String refusal =
        " is in the coordinator's data dir "
            + realRoot.resolve("data")
            + ", which holds its journal and keys and is never readable; hash files under "
            + realRoot;
    assertRefused(
        Status.Code.INVALID_ARGUMENT, "hash.path: " + journal + refusal, jobs, hash(journal, 0));
    // Nor through a link inside the root: the check is on the resolved path.
    Path link = Files.createSymbolicLink(realRoot.resolve("innocent"), journal);
    assertRefused(
        Status.Code.INVALID_ARGUMENT,
        "hash.path: " + link + " (" + journal + ")" + refusal,
        jobs,
        hash(link, 0));
    assertRefused(
        Status.Code.INVALID_ARGUMENT,
        "hash.path: /etc/hostname is outside the directories this coordinator may read ("
            + realRoot
            + "); start it with --hash-root DIR to allow another",
        jobs,
        hash(Path.of("/etc/hostname"), 0));
  }

  @Test
  void chunksOfOneByteAreRefused() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub jobs = start(List.of(root));
    Path inside = file(root.resolve("a.bin"), 10_000, 1);
    assertRefused(
        Status.Code.INVALID_ARGUMENT,
        "task_size: must be between 4096 and 67108864 for hash jobs (got 1) (the digests of"
            + " smaller chunks would give their bytes away)",
        jobs,
        hash(inside, 0).toBuilder().setTaskSize(1).build());
    assertRefused(
        Status.Code.INVALID_ARGUMENT,
        "hash.chunk_bytes: must be between 4096 and 67108864, or 0 for the default 1048576 (got 1)"
            + " (the digests of smaller chunks would give their bytes away)",
        jobs,
        hash(inside, 1));
    assertEquals(0, descriptorsOpenOn(inside.toRealPath()), "refused jobs keep no file open");
  }

  @Test
  void aLinkSwappedAfterSubmitDoesNotChangeWhatIsRead() throws Exception {
    Path realRoot = root.toRealPath();
    JobServiceGrpc.JobServiceBlockingStub jobs = start(List.of(realRoot.resolve("files")));
    Path dir = realRoot.resolve("files").resolve("dir");
    Path checked = file(dir.resolve("data"), 8 * CHUNK, 1);
    byte[] original = Files.readAllBytes(checked);
    Path link = Files.createSymbolicLink(realRoot.resolve("files").resolve("link"), checked);
    // What a reopen by name after the swap would read: a file in the data dir.
    Path secret = file(realRoot.resolve("data").resolve("secret").resolve("data"), 8 * CHUNK, 2);
    assertNotEquals(expectedSha256(original), expectedSha256(Files.readAllBytes(secret)));

    // Submitted through a link: resolved and checked once, then opened once. No worker yet, so
    // at most the first chunks are read ahead before the swap.
    Job job = submit(jobs, hash(link, CHUNK));
    assertEquals(8, job.getTasksTotal());
    Path moved = realRoot.resolve("files").resolve("moved");
    Files.move(dir, moved);
    Files.createSymbolicLink(dir, secret.getParent());
    assertEquals(
        expectedSha256(Files.readAllBytes(secret)), expectedSha256(Files.readAllBytes(checked)));

    runningWorker();
    Job done = await(jobs, job.getId(), JobState.SUCCEEDED);
    assertEquals(expectedSha256(original), done.getResult().getHash().getSha256());
    // The job ended: its file is closed.
    assertEquals(0, descriptorsOpenOn(moved.resolve("data")));
  }

  @Test
  void aCancelledJobClosesItsFile() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub jobs = start(List.of(root));
    Path inside = file(root.resolve("a.bin"), 4 * CHUNK, 1).toRealPath();
    Job job = submit(jobs, hash(inside, CHUNK));
    assertEquals(1, descriptorsOpenOn(inside), "the queued job holds its file");
    jobs.withDeadlineAfter(10, TimeUnit.SECONDS)
        .cancelJob(CancelJobRequest.newBuilder().setId(job.getId()).build());
    await(jobs, job.getId(), JobState.CANCELLED);
    assertEquals(0, descriptorsOpenOn(inside));
  }

  @Test
  void aStoppingCoordinatorClosesTheFilesOfUnfinishedJobs() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub jobs = start(List.of(root));
    Path inside = file(root.resolve("a.bin"), 4 * CHUNK, 1).toRealPath();
    submit(jobs, hash(inside, CHUNK));
    assertEquals(1, descriptorsOpenOn(inside));
    coordinator.close();
    assertEquals(0, descriptorsOpenOn(inside));
  }
}
