package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.CountResult;
import dev.weft.v1.ExecOutcome;
import dev.weft.v1.ExecParams;
import dev.weft.v1.ExecResult;
import dev.weft.v1.HashParams;
import dev.weft.v1.HashResult;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.NoopParams;
import dev.weft.v1.SleepParams;
import dev.weft.v1.SumParams;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
import dev.weft.worker.Worker;
import dev.weft.worker.WorkerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * One contract for every link between the coordinator and a worker, as grpc-java's
 * AbstractTransportTest is for its transports: the same jobs over gRPC, pipes and shared memory
 * give the same exact results, compared with the same constants.
 *
 * <p>Each nested class starts one coordinator and one worker with {@value #SLOTS} slots for all its
 * tests (a worker JVM costs seconds on two cores). It checks before the first test that the link is
 * the one it is named for, and after every test that it still is: a link that silently fell back to
 * gRPC would otherwise pass the whole contract.
 */
final class LinkContractTest {
  static final int SLOTS = 2;
  static final int MIB = 1 << 20;
  static final Duration START_DEADLINE = Duration.ofSeconds(30);
  static final Duration JOB_DEADLINE = Duration.ofSeconds(60);

  // An oracle independent of MessageDigest: Python's hashlib over content(), chunk by chunk, then
  // over the concatenated raw chunk digests.
  static final List<String> CHUNKS_OF_3_MIB_BY_1_MIB =
      List.of(
          "f32f6cea58a7de50aef3ce7c0a2eaa77ff2c1c14d7486fb020b30badc5e38c1a",
          "cb64c864ae1a2479ab78a5cedc86e3be81009fca7a1647cf1d204fcbd2a6bd76",
          "f65ebaf8c6204ec1a91aa3fdd2b5f64c39812b7b00a506c90db5256b10b5a030");
  static final String HASH_OF_3_MIB_BY_1_MIB =
      "2e2f01949b5e9cce590e0de063eebc8fd7e27a7e7c70acbb7a9765fca4b6ae40";
  static final List<String> CHUNKS_OF_9_MIB_BY_3_MIB =
      List.of(
          "a78c01ca330692e9f0c87708b59237f2d98f4f619bcc31fb8efc17cb2a6e8af2",
          "618e781b22438ac335b52dd4c53d2142730f56fc3a0c48b0472f025200b0cfe0",
          "0558512c66fc59cca27b331fc56300cb0250aea07962958195005263443f5083");
  static final String HASH_OF_9_MIB_BY_3_MIB =
      "2226ea600a98d324c7576b72ca75eb6b9805598a60c4ab0fd2bc9ed1290fe2c6";
  static final List<String> CHUNKS_OF_27_MIB_BY_9_MIB =
      List.of(
          "ad848fa1efd3202ac9ebaeba8e4a7a6e0fd452890606283a2dfddc96256050b5",
          "cbca68151749f52fd6d63e713154217ad671a29dd2e23c20fc0e4d10e43483b7",
          "55543ee45479eb272ace0eab21d784e6839f32bea14fb62c794973f24fe3423f");
  static final String HASH_OF_27_MIB_BY_9_MIB =
      "ba2b7d93ce875a347a2ea813ea64658ce4554a771ff563832edc637f0f8e3320";

  @Nested
  @DisplayName("gRPC over TCP: a worker in this JVM, shared-memory upgrade off on both sides")
  final class OverGrpc extends Contract {
    @Override
    String transport() {
      return "grpc";
    }

    @Override
    CoordinatorConfig coordinatorConfig() {
      return new CoordinatorConfig().shmUpgrade("grpc");
    }

    @Override
    WorkerConfig workerConfig(int port) {
      return inProcessWorker(port, "grpc");
    }
  }

  @Nested
  @DisplayName("pipe: a worker the coordinator spawned, on its stdin/stdout")
  final class OverPipe extends Contract {
    @Override
    String transport() {
      return "pipe";
    }

    @Override
    CoordinatorConfig coordinatorConfig() {
      return new CoordinatorConfig()
          .localWorkers(1, "pipe", SLOTS, WeftJvm.command(List.of("worker")));
    }
  }

  @Nested
  @DisplayName("shm: a worker the coordinator spawned, its pipes upgraded to shared memory")
  final class OverSpawnedShm extends Contract {
    @Override
    String transport() {
      return "shm";
    }

    @Override
    CoordinatorConfig coordinatorConfig() {
      return new CoordinatorConfig()
          .localWorkers(1, "shm", SLOTS, WeftJvm.command(List.of("worker")));
    }
  }

  @Nested
  @DisplayName("shm: a worker in this JVM attached over gRPC, then upgraded")
  final class OverUpgradedShm extends Contract {
    @Override
    String transport() {
      return "shm";
    }

    @Override
    CoordinatorConfig coordinatorConfig() {
      return new CoordinatorConfig().shmUpgrade("auto");
    }

    @Override
    WorkerConfig workerConfig(int port) {
      return inProcessWorker(port, "auto");
    }
  }

  static WorkerConfig inProcessWorker(int port, String transport) {
    return new WorkerConfig()
        .join("127.0.0.1:" + port)
        .id("in-process-" + transport)
        .transport(transport)
        .slots(SLOTS);
  }

  /** The contract; a subclass says which link to build. */
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  abstract static class Contract {
    @TempDir Path dir;
    private Coordinator coordinator;
    private CoordinatorClient client;
    private Worker worker; // null when the coordinator spawned its own
    private long workerPid; // the spawned worker's process; 0 for a worker in this JVM
    private List<Path> segments; // the link's own segment, if it has one

    /** "grpc", "pipe" or "shm": what ListWorkers must say for the worker all along. */
    abstract String transport();

    /** The coordinator's settings; where it listens is set here. */
    abstract CoordinatorConfig coordinatorConfig();

    /** A worker to start in this JVM against {@code port}; null when the coordinator spawns one. */
    WorkerConfig workerConfig(int port) {
      return null;
    }

    @BeforeAll
    void startLink() throws Exception {
      // Hash jobs read the files the tests write: they are in @TempDir dirs, which JUnit makes
      // under java.io.tmpdir (and injects only after @BeforeAll).
      coordinator =
          Coordinator.start(
              coordinatorConfig()
                  .listen("127.0.0.1", 0)
                  // The link's contract, not the door (SecurityEndToEndTest and RolesTest are).
                  .security(new SecurityConfig().insecure(true))
                  .hashRoots(List.of(Path.of(System.getProperty("java.io.tmpdir")))));
      client = new CoordinatorClient(new Address("127.0.0.1", coordinator.port()));
      WorkerConfig config = workerConfig(coordinator.port());
      if (config != null) {
        worker = Worker.start(config);
      }
      assertTrue(
          coordinator.awaitTransport(
              dev.weft.wire.Transport.ofWireName(transport()), START_DEADLINE),
          () -> "no worker on " + transport() + " within " + START_DEADLINE + ": " + workers());
      List<WorkerInfo> workers = client.workers();
      assertEquals(1, workers.size(), workers::toString);
      WorkerInfo info = workers.getFirst();
      assertEquals(transport(), info.getTransport(), info::toString);
      assertEquals(SLOTS, info.getSlots(), info::toString);
      if (worker != null) {
        // The worker moves its sends to shm just after it accepts, so it may lag the coordinator.
        Await.until(
            "the worker to see its link as " + transport(),
            Duration.ofSeconds(10),
            () -> worker.transport().equals(transport()),
            () -> "the worker is on '" + worker.transport() + "'");
      } else {
        workerPid = info.getPid();
        assertEquals(
            Set.of(workerPid), Leftovers.children(), "the spawned worker is our only child");
      }
      segments = Leftovers.segmentsOf(coordinator.id());
      assertEquals(transport().equals("shm") ? 1 : 0, segments.size(), segments::toString);
    }

    @AfterEach
    void linkIsUnchangedAndNothingIsLeft() throws InterruptedException {
      // Exec tasks' processes are gone; only a spawned worker remains, and it is the same one.
      Leftovers.awaitChildren(
          workerPid == 0 ? Set.of() : Set.of(workerPid),
          "no child process but the fixture's worker");
      Await.until(
          "the worker to have no task left",
          Duration.ofSeconds(10),
          () -> busy() == 0,
          this::state);
      List<WorkerInfo> workers = client.workers();
      assertEquals(1, workers.size(), workers::toString);
      assertEquals(
          transport(), workers.getFirst().getTransport(), () -> "the link fell back: " + workers);
      if (worker != null) {
        assertEquals(transport(), worker.transport(), "the worker's own view of its link");
      } else {
        assertEquals(workerPid, workers.getFirst().getPid(), "the spawned worker was replaced");
      }
      assertEquals(segments, Leftovers.segmentsOf(coordinator.id()), "segments of this link");
    }

    @AfterAll
    void stopLink() throws InterruptedException {
      try {
        if (worker != null) {
          worker.close();
        }
        if (coordinator != null) {
          coordinator.close();
        }
      } finally {
        if (client != null) {
          client.close();
        }
      }
      Leftovers.awaitNoChildren();
      if (coordinator != null) {
        Leftovers.awaitNoSegments(coordinator.id());
      }
    }

    @Test
    void sumIsExact() throws Exception {
      Job job =
          run(
              JobSpec.newBuilder()
                  .setSum(SumParams.newBuilder().setFrom(1).setTo(10_000_000))
                  .setTasks(10));

      assertSucceeded(10, job);
      assertEquals("50000005000000", job.getResult().getSum().getSum());
    }

    @Test
    void noopTasksCarryEveryPayloadByte() throws Exception {
      Job job =
          run(
              JobSpec.newBuilder()
                  .setNoop(NoopParams.newBuilder().setPayloadBytes(1024))
                  .setTasks(5_000));

      assertSucceeded(5_000, job);
      assertEquals(
          CountResult.newBuilder().setTasks(5_000).setBytes(5_000L * 1024).build(),
          job.getResult().getCount());
    }

    @Test
    void hashOfMebibyteChunksIsTheDigestOfTheChunkDigests() throws Exception {
      Path file = writeContent("3mib", 3 * MIB);

      Job job = run(hashJob(file, MIB));

      assertSucceeded(3, job);
      HashResult expected = digestOfChunks(file, MIB);
      assertEquals(CHUNKS_OF_3_MIB_BY_1_MIB, expected.getChunkSha256List(), "test vs hashlib");
      assertEquals(HASH_OF_3_MIB_BY_1_MIB, expected.getSha256(), "test vs hashlib");
      assertEquals(expected, job.getResult().getHash());
    }

    /** On shm a 3 MiB task fits in a frame but not in one ring record: it travels in fragments. */
    @Test
    void hashWithChunksSplitAcrossRingRecordsIsExact() throws Exception {
      onShm(
          ring ->
              assertTrue(
                  3 * MIB > ring.toWorker().maxRecordLength() && 4 * MIB <= ring.maxFrameLength(),
                  "3 MiB tasks no longer need fragments: pick another chunk size"));
      Path file = writeContent("9mib", 9 * MIB);

      Job job = run(hashJob(file, 3 * MIB));

      assertSucceeded(3, job);
      HashResult expected = digestOfChunks(file, 3 * MIB);
      assertEquals(CHUNKS_OF_9_MIB_BY_3_MIB, expected.getChunkSha256List(), "test vs hashlib");
      assertEquals(HASH_OF_9_MIB_BY_3_MIB, expected.getSha256(), "test vs hashlib");
      assertEquals(expected, job.getResult().getHash());
    }

    /** On shm a 9 MiB task is larger than a ring frame: it goes over the control link. */
    @Test
    void hashWithChunksLargerThanARingFrameIsExact() throws Exception {
      onShm(
          ring ->
              assertTrue(
                  9 * MIB > ring.maxFrameLength(),
                  "9 MiB tasks now fit in a ring frame: pick a larger chunk size"));
      Path file = writeContent("27mib", 27 * MIB);

      Job job = run(hashJob(file, 9 * MIB));

      assertSucceeded(3, job);
      HashResult expected = digestOfChunks(file, 9 * MIB);
      assertEquals(CHUNKS_OF_27_MIB_BY_9_MIB, expected.getChunkSha256List(), "test vs hashlib");
      assertEquals(HASH_OF_27_MIB_BY_9_MIB, expected.getSha256(), "test vs hashlib");
      assertEquals(expected, job.getResult().getHash());
    }

    @Test
    void anExecTaskExitingSevenFailsTheJobWithItsExitCodeAndOutput() throws Exception {
      String script = "echo \"out $1\"; echo \"err $1\" >&2; [ \"$1\" != 2 ] || exit 7";
      Job job =
          run(
              JobSpec.newBuilder()
                  .setExec(
                      ExecParams.newBuilder()
                          .addAllCommand(List.of("sh", "-c", script, "sh"))
                          .addAllInputs(List.of("0", "1", "2", "3"))));

      assertEquals(JobState.FAILED, job.getState(), job::toString);
      assertEquals(4, job.getTasksTotal(), job::toString);
      assertEquals(3, job.getTasksDone(), job::toString);
      assertEquals(1, job.getTasksFailed(), job::toString);
      assertEquals(4, job.getAttempts(), "a task's own exit code is not retried: " + job);
      assertEquals("1 of 4 tasks failed; first: task 2: exit 7: err 2", job.getError());
      ExecResult exec = job.getResult().getExec();
      assertEquals(3, exec.getSucceeded(), job::toString);
      assertEquals(1, exec.getFailed(), job::toString);
      assertEquals(4, exec.getTasksCount(), job::toString);
      for (int task = 0; task < 4; task++) {
        ExecOutcome outcome = exec.getTasks(task);
        assertEquals(task, outcome.getTask(), outcome::toString);
        assertEquals(String.valueOf(task), outcome.getInput(), outcome::toString);
        assertEquals(task == 2 ? 7 : 0, outcome.getExitCode(), outcome::toString);
        assertEquals("out " + task + "\n", outcome.getStdoutTail(), outcome::toString);
        assertEquals("err " + task + "\n", outcome.getStderrTail(), outcome::toString);
      }
    }

    @Test
    void cancellingASleepingJobEndsItAndGivesItsSlotsBack() throws Exception {
      String name = "sleepy-" + transport();
      CompletableFuture<Job> sleeping =
          coordinator.run(
              JobSpec.newBuilder()
                  .setSleep(SleepParams.newBuilder().setMs(60_000))
                  .setTasks(2 * SLOTS)
                  .setName(name)
                  .build());
      AtomicReference<Job> seen = new AtomicReference<>();
      Await.until(
          "every slot to hold a 60 s task",
          Duration.ofSeconds(10),
          () -> {
            seen.set(jobNamed(name));
            // The tasks beyond the slots may wait on the worker too (its prefetch).
            return seen.get().getTasksRunning() >= SLOTS && busy() >= SLOTS;
          },
          () -> "job: " + seen.get() + "\n" + state());

      long cancelledAt = System.nanoTime();
      CancelJobResponse response = client.cancel(seen.get().getId(), "the test is done with it");
      Job cancelled = await(sleeping, Duration.ofSeconds(5));
      // The worker stops its sleeps and reports them: its slots come back long before 60 s.
      Await.until(
          "the worker to hand back its cancelled tasks",
          Duration.ofSeconds(10),
          () -> busy() == 0,
          this::state);
      Duration took = Duration.ofNanos(System.nanoTime() - cancelledAt);

      assertTrue(response.getCancelled(), response::toString);
      assertEquals(JobState.CANCELLED, cancelled.getState(), cancelled::toString);
      assertEquals(0, cancelled.getTasksDone(), cancelled::toString);
      assertTrue(took.compareTo(Duration.ofSeconds(10)) < 0, "cancelled in " + took);
      Job sum =
          run(
              JobSpec.newBuilder()
                  .setSum(SumParams.newBuilder().setFrom(1).setTo(1_000_000))
                  .setTasks(2 * SLOTS),
              Duration.ofSeconds(20));
      assertSucceeded(2 * SLOTS, sum);
      assertEquals("500000500000", sum.getResult().getSum().getSum());
    }

    /** Checks a test's premise against the link's segment, when the link has one. */
    private void onShm(Consumer<SegmentFile> check) throws Exception {
      for (Path segment : segments) {
        try (SegmentFile ring = SegmentFile.map(segment)) {
          check.accept(ring);
        }
      }
    }

    private Job run(JobSpec.Builder spec) throws Exception {
      return run(spec, JOB_DEADLINE);
    }

    private Job run(JobSpec.Builder spec, Duration deadline) throws Exception {
      return await(coordinator.run(spec.build()), deadline);
    }

    private Job await(CompletableFuture<Job> job, Duration deadline)
        throws InterruptedException, ExecutionException {
      try {
        return job.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        throw new AssertionError("the job did not end within " + deadline + "\n" + state(), e);
      }
    }

    private Job jobNamed(String name) {
      return client.list(List.of(), 100, false).getJobsList().stream()
          .filter(job -> job.getSpec().getName().equals(name))
          .findFirst()
          .orElseThrow(() -> new AssertionError("no job named " + name + "\n" + state()));
    }

    private int busy() {
      return client.workers().stream().mapToInt(WorkerInfo::getBusy).sum();
    }

    private List<WorkerInfo> workers() {
      return client.workers();
    }

    /** Workers and recent jobs, for failure messages. */
    private String state() {
      return "workers: "
          + client.workers()
          + "\njobs: "
          + client.list(List.of(), 5, false).getJobsList();
    }

    private Path writeContent(String name, int size) throws Exception {
      return Files.write(dir.resolve(name), content(size));
    }
  }

  static void assertSucceeded(int tasks, Job job) {
    assertEquals(JobState.SUCCEEDED, job.getState(), job::toString);
    assertEquals(tasks, job.getTasksTotal(), job::toString);
    assertEquals(tasks, job.getTasksDone(), job::toString);
    assertEquals(0, job.getTasksFailed(), job::toString);
    assertEquals("", job.getError(), job::toString);
  }

  static JobSpec.Builder hashJob(Path file, int chunkBytes) {
    return JobSpec.newBuilder()
        .setHash(HashParams.newBuilder().setPath(file.toString()).setChunkBytes(chunkBytes));
  }

  /** Deterministic and aperiodic, so chunks differ and a swapped or repeated chunk shows. */
  static byte[] content(int size) {
    byte[] bytes = new byte[size];
    for (int i = 0; i < size; i++) {
      bytes[i] = (byte) ((i * 131) ^ (i >>> 9) ^ (i >>> 17));
    }
    return bytes;
  }

  /** What a hash job must answer, computed here directly. */
  static HashResult digestOfChunks(Path file, int chunkBytes) throws Exception {
    byte[] data = Files.readAllBytes(file);
    HexFormat hex = HexFormat.of();
    MessageDigest overall = MessageDigest.getInstance("SHA-256");
    HashResult.Builder result = HashResult.newBuilder().setBytes(data.length);
    for (int from = 0; from < data.length; from += chunkBytes) {
      byte[] chunk = Arrays.copyOfRange(data, from, Math.min(data.length, from + chunkBytes));
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(chunk);
      result.addChunkSha256(hex.formatHex(digest));
      overall.update(digest);
    }
    return result.setSha256(hex.formatHex(overall.digest())).build();
  }
}
