package dev.weft.cli;

import static dev.weft.cli.LinkContractTest.assertSucceeded;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.SumParams;
import dev.weft.v1.WorkerInfo;
import dev.weft.worker.Worker;
import dev.weft.worker.WorkerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Faults under a shared-memory link: frames the coordinator must reject, and a worker killed while
 * on shm. Either way the job ends with its exact result and no segment is left behind.
 */
final class ShmFaultTest {
  private static final Duration START_DEADLINE = Duration.ofSeconds(30);
  private static final Duration JOB_DEADLINE = Duration.ofSeconds(60);
  private static final int SLOTS = 2;
  private static final String UPGRADE_LOGGER = "dev.weft.coordinator.SharedMemoryUpgrade";

  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private final List<String> coordinatorIds = new ArrayList<>();

  /** What the test writes into the worker-to-coordinator ring, and what the reader must say. */
  enum Corruption {
    OVERSIZED_LENGTH(
        "record length 2147483647 at ring offset", f -> f.writeLengthAtTail(Integer.MAX_VALUE)),
    NEGATIVE_LENGTH(
        "has length -2147483648, which no record there can have",
        f -> f.writeLengthAtTail(Integer.MIN_VALUE)),
    // A record of 64 bytes where the producer's tail says nothing was written.
    BYTES_PAST_THE_TAIL("inconsistent with the producer's tail", f -> f.writeLengthAtTail(64)),
    // A complete, published record whose frame type no weft link uses.
    UNKNOWN_TYPE("has frame type 99, not in [1, 2]", f -> f.appendRecord(99, new byte[8]));

    final String reason;
    final Consumer<SegmentFile> write;

    Corruption(String reason, Consumer<SegmentFile> write) {
      this.reason = reason;
      this.write = write;
    }
  }

  @AfterEach
  void closeEverythingAndLeaveNothing() throws Exception {
    Exception failure = null;
    while (!resources.isEmpty()) {
      try {
        resources.pop().close();
      } catch (Exception e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    Leftovers.awaitNoChildren();
    for (String id : coordinatorIds) {
      Leftovers.awaitNoSegments(id);
    }
    if (failure != null) {
      throw failure;
    }
  }

  /**
   * The coordinator reads the worker's ring while a job of many small tasks runs. The test stops
   * the reader mid-ring, writes a bad record where the next one goes, and lets it go on.
   */
  @ParameterizedTest
  @EnumSource
  void aCorruptFrameFallsBackToGrpcAndEveryTaskCountsOnce(Corruption corruption) throws Exception {
    Coordinator coordinator = start(new CoordinatorConfig().fastPath("auto"));
    CoordinatorClient client = client(coordinator);
    Worker worker =
        closeLater(
            Worker.start(
                new WorkerConfig()
                    .join("127.0.0.1:" + coordinator.port())
                    .id("tampered")
                    .transport("auto")
                    .slots(SLOTS)));
    assertTrue(coordinator.awaitTransport("shm", START_DEADLINE), client.workers()::toString);
    List<Path> segments = Leftovers.segmentsOf(coordinator.id());
    assertEquals(1, segments.size(), segments::toString);
    SegmentFile segment = closeLater(SegmentFile.map(segments.getFirst()));
    LogCapture upgradeLog = closeLater(new LogCapture(UPGRADE_LOGGER));

    CompletableFuture<Job> job =
        coordinator.run(sum(2_000_000_000L, 1_000).toBuilder().setName("small-tasks").build());
    // Well under way, so results have crossed the ring before the bad record and will after it.
    AtomicReference<Job> seen = new AtomicReference<>();
    Await.until(
        "100 tasks to be done over shm",
        Duration.ofSeconds(30),
        () -> {
          seen.set(jobNamed(client, "small-tasks"));
          return seen.get().getTasksDone() >= 100;
        },
        () -> "job: " + seen.get());
    SchedulerHold hold = holdTheScheduler(coordinator);
    awaitQuiet(segment);
    // A reader held in the middle of a pass has not published its head: if it were free (and
    // caught up), head would equal tail and the bad record would race the worker's next one.
    assertTrue(
        segment.workerHead() < segment.workerTail(),
        () ->
            "the coordinator's shm reader is not held (head "
                + segment.workerHead()
                + ", tail "
                + segment.workerTail()
                + "): does Coordinator.run still complete under the scheduler's lock?");
    corruption.write.accept(segment);
    hold.release();

    Await.until(
        "the worker to fall back to grpc",
        Duration.ofSeconds(10),
        () -> worker.transport().equals("grpc"),
        () -> "worker on " + worker.transport() + "; logged " + upgradeLog.messages());
    Job done = await(job, client);
    Job small = await(hold.job, client);

    assertSucceeded(1_000, done);
    assertEquals("2000000001000000000", done.getResult().getSum().getSum());
    assertSucceeded(1, small);
    assertEquals("55", small.getResult().getSum().getSum());
    List<WorkerInfo> workers = client.workers();
    assertEquals(1, workers.size(), workers::toString);
    assertEquals("grpc", workers.getFirst().getTransport(), workers::toString);
    assertFalse(Files.exists(segment.path()), "the failed link's segment is unlinked");
    assertEquals(List.of(), Leftovers.segmentsOf(coordinator.id()));
    List<String> logged = upgradeLog.messages();
    assertEquals(1, logged.size(), () -> "one fall-back: " + logged);
    assertTrue(
        logged.getFirst().startsWith("fast path to worker tampered failed (corrupt frame: ")
            && logged.getFirst().contains(corruption.reason)
            && logged.getFirst().endsWith("; falling back to grpc"),
        () -> "the reader must reject this record for its own reason: " + logged);
  }

  @Test
  void aSpawnedShmWorkerKilledMidJobIsReplacedAndItsSegmentRemoved() throws Exception {
    Coordinator coordinator =
        start(
            new CoordinatorConfig()
                .localWorkers(1, "shm", SLOTS, WeftJvm.command(List.of("worker"))));
    CoordinatorClient client = client(coordinator);
    assertTrue(coordinator.awaitTransport("shm", START_DEADLINE), client.workers()::toString);
    WorkerInfo victim = onlyWorker(client);
    assertEquals("shm", victim.getTransport(), victim::toString);
    List<Path> before = Leftovers.segmentsOf(coordinator.id());
    assertEquals(1, before.size(), before::toString);
    assertEquals(victim.getPid(), attacherOf(before.getFirst()), "the victim maps the segment");

    CompletableFuture<Job> job =
        coordinator.run(sum(4_000_000_000L, 400).toBuilder().setName("killed-mid-job").build());
    AtomicReference<Job> seen = new AtomicReference<>();
    Await.until(
        "the job to be under way on the worker",
        Duration.ofSeconds(30),
        () -> {
          seen.set(jobNamed(client, "killed-mid-job"));
          return seen.get().getTasksDone() >= 10 && onlyWorker(client).getBusy() > 0;
        },
        () -> "job: " + seen.get() + "\nworkers: " + client.workers());
    ProcessHandle process = ProcessHandle.of(victim.getPid()).orElseThrow();
    assertTrue(process.destroyForcibly(), "SIGKILL the worker");
    process.onExit().get(10, TimeUnit.SECONDS);
    assertFalse(job.isDone(), () -> "the job ended before its worker died: " + job.join());

    // The supervisor starts the worker again, which gets a segment of its own.
    AtomicReference<List<WorkerInfo>> workers = new AtomicReference<>();
    Await.until(
        "a new worker process on shm",
        START_DEADLINE,
        () -> {
          workers.set(client.workers());
          return workers.get().size() == 1
              && workers.get().getFirst().getPid() != victim.getPid()
              && workers.get().getFirst().getTransport().equals("shm");
        },
        () -> "workers: " + workers.get());
    WorkerInfo replacement = workers.get().getFirst();
    Await.until(
        "the killed worker's segment to go",
        Duration.ofSeconds(10),
        () -> {
          List<Path> now = Leftovers.segmentsOf(coordinator.id());
          return now.size() == 1 && !now.contains(before.getFirst());
        },
        () -> "segments: " + Leftovers.segmentsOf(coordinator.id()));
    Path after = Leftovers.segmentsOf(coordinator.id()).getFirst();
    assertEquals(replacement.getPid(), attacherOf(after), "the new worker maps the new segment");
    Job done = await(job, client);

    assertSucceeded(400, done);
    assertEquals("8000000002000000000", done.getResult().getSum().getSum());
    assertTrue(done.getAttempts() > 400, () -> "the killed worker's tasks ran again: " + done);
    assertEquals(Set.of(replacement.getPid()), Leftovers.children(), "no process but the new one");
  }

  /**
   * Holds the coordinator's scheduler lock until released. {@link Coordinator#run}'s future
   * completes under that lock, on the thread that delivered the last result, so a callback that
   * blocks holds it. The shm reader then stops at the next record it delivers (or in the callback,
   * if it delivered this one), nothing is dispatched, and the worker goes quiet once its running
   * tasks are reported.
   */
  private SchedulerHold holdTheScheduler(Coordinator coordinator) throws InterruptedException {
    Thread test = Thread.currentThread();
    for (int attempt = 0; attempt < 5; attempt++) {
      SchedulerHold hold = closeLater(new SchedulerHold(coordinator.run(sum(10, 1))));
      AtomicBoolean missed = new AtomicBoolean();
      // Had the job already ended, the callback runs right here, holding nothing: try again.
      hold.job.thenRun(
          () -> {
            if (Thread.currentThread() == test) {
              missed.set(true);
            } else {
              hold.block();
            }
          });
      if (!missed.get()) {
        assertTrue(
            hold.holding.await(10, TimeUnit.SECONDS), "the one-task job did not end in 10 s");
        return hold;
      }
    }
    throw new AssertionError("five one-task jobs ended before a callback could hold them");
  }

  /** A job whose completion callback blocks until released (or for 10 s at most). */
  private static final class SchedulerHold implements AutoCloseable {
    final CompletableFuture<Job> job;
    final CountDownLatch holding = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    SchedulerHold(CompletableFuture<Job> job) {
      this.job = job;
    }

    void block() {
      holding.countDown();
      try {
        released.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void release() {
      released.countDown();
    }

    @Override
    public void close() {
      release();
    }
  }

  /**
   * Waits until the worker has written nothing into its ring for 200 ms (ten polls): its running
   * tasks (a few milliseconds each) are done and reported, and no new one can reach it.
   */
  private static void awaitQuiet(SegmentFile segment) throws InterruptedException {
    long[] last = {-1};
    int[] unchanged = {0};
    Await.until(
        "the worker to stop writing into its ring",
        Duration.ofSeconds(10),
        () -> {
          long tail = segment.workerTail();
          unchanged[0] = tail == last[0] ? unchanged[0] + 1 : 0;
          last[0] = tail;
          return unchanged[0] >= 10;
        });
  }

  private Coordinator start(CoordinatorConfig config) throws Exception {
    Coordinator coordinator = closeLater(Coordinator.start(config.listen("127.0.0.1", 0)));
    coordinatorIds.add(coordinator.id());
    return coordinator;
  }

  private CoordinatorClient client(Coordinator coordinator) {
    return closeLater(new CoordinatorClient(new Address("127.0.0.1", coordinator.port())));
  }

  private <T extends AutoCloseable> T closeLater(T resource) {
    resources.push(resource);
    return resource;
  }

  private static JobSpec sum(long to, int tasks) {
    return JobSpec.newBuilder()
        .setSum(SumParams.newBuilder().setFrom(1).setTo(to))
        .setTasks(tasks)
        .build();
  }

  private static Job await(CompletableFuture<Job> job, CoordinatorClient client) throws Exception {
    try {
      return job.get(JOB_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError(
          "the job did not end within "
              + JOB_DEADLINE
              + "\nworkers: "
              + client.workers()
              + "\njobs: "
              + client.list(List.of(), 5),
          e);
    }
  }

  private static WorkerInfo onlyWorker(CoordinatorClient client) {
    List<WorkerInfo> workers = client.workers();
    assertEquals(1, workers.size(), workers::toString);
    return workers.getFirst();
  }

  private static Job jobNamed(CoordinatorClient client, String name) {
    return client.list(List.of(), 100).stream()
        .filter(job -> job.getSpec().getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no job named " + name));
  }

  private static long attacherOf(Path segment) throws Exception {
    try (SegmentFile file = SegmentFile.map(segment)) {
      return file.attacherPid();
    }
  }
}
