package dev.weft.cli;

import static dev.weft.cli.LinkContractTest.assertSucceeded;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.local.HostIdentity;
import dev.weft.local.ShmEndpoint;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Hello;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.ShmOffer;
import dev.weft.v1.SumParams;
import dev.weft.v1.WorkerInfo;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import dev.weft.wire.Address;
import dev.weft.worker.Worker;
import dev.weft.worker.WorkerConfig;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Faults under a shared-memory link: frames a reader must reject, and workers killed while on shm.
 * Whatever happens, the job ends with its exact result and no segment is left behind.
 *
 * <p>The frame tests use a worker in this JVM, upgraded to shm: both ends map the same file, and so
 * does the test, which writes into a ring while the scheduler is held (see {@link
 * #holdTheScheduler}) so that nothing races the bad record.
 */
final class ShmFaultTest {
  private static final Duration START_DEADLINE = Duration.ofSeconds(30);
  private static final Duration JOB_DEADLINE = Duration.ofSeconds(60);
  private static final int SLOTS = 2;
  private static final String UPGRADE_LOGGER = "dev.weft.coordinator.ShmUpgrade";
  private static final String WORKER_SESSION_LOGGER = "dev.weft.worker.CoordinatorSession";
  private static final String ENDPOINT_LOGGER = "dev.weft.local.ShmEndpoint";

  @TempDir Path dir;
  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private final List<String> coordinatorIds = new ArrayList<>();

  /** What the test writes into the worker-to-coordinator ring, and what the reader must say. */
  enum Corruption {
    OVERSIZED_LENGTH(
        "record length 2147483647 at ring offset",
        ring -> ring.writeLengthAtTail(Integer.MAX_VALUE)),
    NEGATIVE_LENGTH(
        "has length -2147483648, which no record there can have",
        ring -> ring.writeLengthAtTail(Integer.MIN_VALUE)),
    // A record of 64 bytes where the producer's tail says nothing was written.
    BYTES_PAST_THE_TAIL(
        "inconsistent with the producer's tail", ring -> ring.writeLengthAtTail(64)),
    // A complete, published record whose frame type no weft link uses.
    UNKNOWN_TYPE("has frame type 99, not in [1, 2]", ring -> ring.appendRecord(99, new byte[8]));

    final String reason;
    final Consumer<SegmentFile.Ring> write;

    Corruption(String reason, Consumer<SegmentFile.Ring> write) {
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
   * The coordinator reads the worker's ring while a job of many small tasks runs. The test holds
   * the conductor, waits until the worker is quiet and its ring read, writes a bad record where the
   * next one goes, and lets everything go on.
   */
  @ParameterizedTest
  @EnumSource
  void aCorruptFrameFromTheWorkerFallsBackToGrpcAndEveryTaskCountsOnce(Corruption corruption)
      throws Exception {
    Tampered link = new Tampered();
    CompletableFuture<Job> job = link.startJob();
    SchedulerHold hold = holdTheScheduler(link.coordinator);
    SegmentFile.Ring ring = link.segment.toCoordinator();
    awaitQuiet(ring, "the worker");
    // The coordinator's reader never waits for the conductor: it reads on to the end of what the
    // quiet worker wrote, and the bad record goes where the worker's next one would.
    Await.until(
        "the coordinator to read everything the worker sent",
        Duration.ofSeconds(10),
        () -> ring.head() == ring.tail());
    corruption.write.accept(ring);
    // At once, before the worker's next write (a heartbeat) could cover the bad record.
    link.segment.wakeCoordinator();
    // Held until the reader has rejected it: released, the conductor would send the worker tasks
    // whose results could land on the bad record first.
    Await.until(
        "the coordinator's reader to reject the record",
        Duration.ofSeconds(10),
        () ->
            link.readerLog.messages().stream()
                .anyMatch(m -> m.startsWith("weft-shm-tampered: corrupt frame: ")),
        () -> "the reader logged " + link.readerLog.messages());
    hold.release();

    link.assertFellBackAndFinished(job, hold);
    List<String> endings = link.shmEndings();
    assertEquals(1, endings.size(), () -> "one fall-back: " + endings);
    assertTrue(
        endings.getFirst().contains("corrupt frame: ")
            && endings.getFirst().contains(corruption.reason),
        () -> "the coordinator must reject this record for its own reason: " + endings);
  }

  /**
   * The same from the other side: a bad record in the coordinator's ring. The worker rejects it and
   * leaves the shared-memory link; the coordinator sees it go and falls back too.
   */
  @Test
  void aCorruptFrameFromTheCoordinatorMakesBothEndsFallBack() throws Exception {
    Tampered link = new Tampered();
    LogCapture workerLog = closeLater(new LogCapture(WORKER_SESSION_LOGGER));
    CompletableFuture<Job> job = link.startJob();
    SchedulerHold hold = holdTheScheduler(link.coordinator);
    SegmentFile.Ring ring = link.segment.toWorker();
    // Held, the coordinator dispatches nothing and sends no heartbeat; the worker reads it all.
    awaitQuiet(ring, "the coordinator");
    Await.until(
        "the worker to read everything sent to it",
        Duration.ofSeconds(10),
        () -> ring.head() == ring.tail());
    ring.writeLengthAtTail(Integer.MAX_VALUE);
    // The worker's reader wakes within its park timeout even when nothing rings its doorbell.
    Await.until(
        "the worker to leave the shared-memory link",
        Duration.ofSeconds(10),
        () -> link.worker.transport().equals("grpc"),
        () -> "logged: " + workerLog.messages());
    hold.release();

    link.assertFellBackAndFinished(job, hold);
    assertTrue(
        workerLog.messages().stream()
            .anyMatch(m -> m.contains("corrupt frame: record length 2147483647 at ring offset")),
        () -> "the worker must reject the record: " + workerLog.messages());
    // The worker's results reach the coordinator over gRPC at once; the coordinator notices the
    // closed segment at its reader's next look, which may come after the job's end.
    Await.until(
        "the coordinator to follow the worker off the segment",
        Duration.ofSeconds(10),
        () -> !link.shmEndings().isEmpty(),
        () -> "logged: " + link.upgradeLog.messages());
    List<String> endings = link.shmEndings();
    assertEquals(1, endings.size(), () -> "one fall-back: " + endings);
    assertTrue(
        endings.getFirst().contains(ShmEndpoint.PEER_CLOSED),
        () -> "the coordinator follows the worker: " + endings);
  }

  @Test
  void aSpawnedShmWorkerKilledMidJobIsReplacedAndItsSegmentRemoved() throws Exception {
    Coordinator coordinator =
        start(
            new CoordinatorConfig()
                .localWorkers(1, "shm", SLOTS, WeftJvm.command(List.of("worker"))));
    CoordinatorClient client = client(coordinator);
    assertTrue(
        coordinator.awaitTransport(dev.weft.wire.Transport.SHM, START_DEADLINE),
        client.workers()::toString);
    WorkerInfo victim = onlyWorker(client);
    Path victimSegment = onlySegment(coordinator);
    assertEquals(victim.getPid(), attacherOf(victimSegment), "the victim maps the segment");

    CompletableFuture<Job> job = coordinator.run(named(sum(4_000_000_000L, 400), "killed"));
    killMidJob(client, victim, "killed");
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
          return now.size() == 1 && !now.contains(victimSegment);
        },
        () -> "segments: " + Leftovers.segmentsOf(coordinator.id()));
    Path after = onlySegment(coordinator);
    assertEquals(replacement.getPid(), attacherOf(after), "the new worker maps the new segment");
    Job done = await(job, client);

    assertSucceeded(400, done);
    assertEquals("8000000002000000000", done.getResult().getSum().getSum());
    assertTrue(done.getAttempts() > 400, () -> "the killed worker's tasks ran again: " + done);
    assertEquals(Set.of(replacement.getPid()), Leftovers.children(), "no process but the new one");
  }

  /**
   * A worker a user started (`weft worker --join`): its death shows as its gRPC stream breaking.
   */
  @Test
  void aUserStartedShmWorkerKilledMidJobHasItsSegmentRemoved() throws Exception {
    Coordinator coordinator = start(new CoordinatorConfig().shmUpgrade("auto"));
    CoordinatorClient client = client(coordinator);
    Process process =
        new ProcessBuilder(
                WeftJvm.command(
                    List.of(
                        "worker",
                        "--join",
                        "127.0.0.1:" + coordinator.port(),
                        // This test's coordinator speaks plain text (see start()).
                        "--insecure",
                        "--id",
                        "user-started",
                        "--slots",
                        String.valueOf(SLOTS),
                        "--parent-pid",
                        String.valueOf(ProcessHandle.current().pid()))))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("worker.log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    AutoCloseable kill = process::destroyForcibly;
    closeLater(kill);
    assertTrue(
        coordinator.awaitTransport(dev.weft.wire.Transport.SHM, START_DEADLINE),
        () -> client.workers() + "\n" + read(dir.resolve("worker.log")));
    WorkerInfo victim = onlyWorker(client);
    assertEquals(process.pid(), victim.getPid(), victim::toString);
    Path victimSegment = onlySegment(coordinator);

    CompletableFuture<Job> job = coordinator.run(named(sum(4_000_000_000L, 400), "orphaned"));
    killMidJob(client, victim, "orphaned");
    Await.until(
        "the killed worker to be detached and its segment removed",
        Duration.ofSeconds(10),
        () -> client.workers().isEmpty() && Leftovers.segmentsOf(coordinator.id()).isEmpty(),
        () -> client.workers() + "\n" + Leftovers.segmentsOf(coordinator.id()));
    assertFalse(job.isDone(), () -> "the job ended without a worker: " + job.join());
    // Another worker finishes the job: the killed one's tasks went back to the queue.
    closeLater(Worker.start(inProcessWorker(coordinator, "rescuer")));
    assertTrue(
        coordinator.awaitTransport(dev.weft.wire.Transport.SHM, START_DEADLINE),
        client.workers()::toString);
    Job done = await(job, client);

    assertSucceeded(400, done);
    assertEquals("8000000002000000000", done.getResult().getSum().getSum());
    assertTrue(done.getAttempts() > 400, () -> "the killed worker's tasks ran again: " + done);
    assertFalse(Files.exists(victimSegment), "the killed worker's segment stays removed");
  }

  /**
   * A worker that goes away while a segment is on offer to it (it never answers): the link is
   * closed, so the segment must go with it, not when the offer times out ten seconds later.
   */
  @Test
  void aWorkerGoneBeforeAnsweringItsOfferLeavesNoSegment() throws Exception {
    Coordinator coordinator = start(new CoordinatorConfig().shmUpgrade("auto"));
    CoordinatorClient client = client(coordinator);
    RawAttach attach = attach(coordinator);
    StreamObserver<WorkerMessage> requests = attach.requests();
    requests.onNext(WorkerMessage.newBuilder().setHello(sameHostHello("silent")).build());
    ShmOffer offer = null;
    while (offer == null) {
      CoordinatorMessage next = attach.received().poll(10, TimeUnit.SECONDS);
      assertTrue(next != null, "no shm offer within 10 s; got " + attach.received());
      offer = next.hasShmOffer() ? next.getShmOffer() : null;
    }
    Path offered = Path.of(offer.getPath());
    assertTrue(Files.exists(offered), offered::toString);

    requests.onError(new IllegalStateException("the worker is gone")); // cancels the stream
    Await.until(
        "the silent worker to be detached",
        Duration.ofSeconds(5),
        () -> client.workers().isEmpty());
    Await.until(
        "the segment offered to it to be removed",
        Duration.ofSeconds(2),
        () -> !Files.exists(offered),
        () -> offered + " is still there, " + Leftovers.segmentsOf(coordinator.id()));
  }

  /**
   * A worker that offers only shared memory to a coordinator that gives none is refused before it
   * is welcomed (no task can reach it), and the worker stops rather than trying again.
   */
  @Test
  void aWorkerRequiringSharedMemoryItCannotHaveIsRefusedBeforeTheWelcomeAndStops()
      throws Exception {
    Coordinator coordinator = start(new CoordinatorConfig().shmUpgrade("grpc"));
    RawAttach attach = attach(coordinator);
    Hello shmOnly =
        sameHostHello("shm-only").toBuilder().clearTransports().addTransports("shm").build();
    attach.requests().onNext(WorkerMessage.newBuilder().setHello(shmOnly).build());
    Status status = attach.ended().get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.FAILED_PRECONDITION, status.getCode(), status::toString);
    assertEquals(
        "shared memory was required by the worker (its --transport shm) but is not possible: the"
            + " coordinator runs with the shared-memory upgrade off",
        status.getDescription());
    assertEquals(List.of(), List.copyOf(attach.received()), "not even a welcome");

    Worker worker =
        closeLater(Worker.start(inProcessWorker(coordinator, "insists").transport("shm")));
    Await.until("the worker to stop, refused", START_DEADLINE, () -> worker.refusal().isPresent());
    assertTrue(
        worker.refusal().orElseThrow().contains("shared memory was required by the worker"),
        worker.refusal()::toString);
    assertEquals(List.of(), client(coordinator).workers());
  }

  /** An Attach stream spoken by the test itself: what it sends, receives, and how it ended. */
  private record RawAttach(
      StreamObserver<WorkerMessage> requests,
      BlockingQueue<CoordinatorMessage> received,
      CompletableFuture<Status> ended) {}

  private RawAttach attach(Coordinator coordinator) {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", coordinator.port(), InsecureChannelCredentials.create())
            .build();
    closeLater(channel::shutdownNow);
    BlockingQueue<CoordinatorMessage> received = new LinkedBlockingQueue<>();
    CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<WorkerMessage> requests =
        WorkerServiceGrpc.newStub(channel)
            .attach(
                new StreamObserver<>() {
                  @Override
                  public void onNext(CoordinatorMessage message) {
                    received.add(message);
                  }

                  @Override
                  public void onError(Throwable t) {
                    ended.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    ended.complete(Status.OK);
                  }
                });
    return new RawAttach(requests, received, ended);
  }

  /** A hello as `weft worker` on this host sends it, offering shm. */
  private static Hello sameHostHello(String id) {
    HostIdentity host = HostIdentity.current();
    return Hello.newBuilder()
        .setWorkerId(id)
        .setPid(ProcessHandle.current().pid())
        .setSlots(1)
        .addKinds("sum")
        .addTransports("grpc")
        .addTransports("shm")
        .setHost(
            dev.weft.v1.HostIdentity.newBuilder()
                .setHostname(host.hostname())
                .setMachineId(host.machineId())
                .setBootId(host.bootId())
                .setShmDevice(host.shmDevice())
                .setNetNamespace(host.netNamespace())
                .setPidNamespace(HostIdentity.pidNamespace())
                .setUid(host.uid()))
        .build();
  }

  /** A coordinator with a worker in this JVM on shm, the segment mapped by the test. */
  private final class Tampered {
    final Coordinator coordinator;
    final CoordinatorClient client;
    final Worker worker;
    final SegmentFile segment;
    final LogCapture upgradeLog;
    final LogCapture readerLog;

    Tampered() throws Exception {
      coordinator = start(new CoordinatorConfig().shmUpgrade("auto"));
      client = client(coordinator);
      worker = closeLater(Worker.start(inProcessWorker(coordinator, "tampered")));
      assertTrue(
          coordinator.awaitTransport(dev.weft.wire.Transport.SHM, START_DEADLINE),
          client.workers()::toString);
      segment = closeLater(SegmentFile.map(onlySegment(coordinator)));
      upgradeLog = closeLater(new LogCapture(UPGRADE_LOGGER));
      readerLog = closeLater(new LogCapture(ENDPOINT_LOGGER));
    }

    /**
     * A job of many small tasks, once well under way: results have crossed the rings before the bad
     * record, and the rest of the job runs after it.
     */
    CompletableFuture<Job> startJob() throws InterruptedException {
      CompletableFuture<Job> job =
          coordinator.run(named(sum(2_000_000_000L, 1_000), "small-tasks"));
      AtomicReference<Job> seen = new AtomicReference<>();
      Await.until(
          "100 tasks to be done over shm",
          Duration.ofSeconds(30),
          () -> {
            seen.set(jobNamed(client, "small-tasks"));
            return seen.get().getTasksDone() >= 100;
          },
          () -> "job: " + seen.get());
      return job;
    }

    /** What the coordinator logged about this worker's shared-memory link ending, and why. */
    List<String> shmEndings() {
      return upgradeLog.messages().stream()
          .filter(m -> m.contains("tampered"))
          .filter(m -> m.contains("corrupt frame") || m.contains(ShmEndpoint.PEER_CLOSED))
          .toList();
    }

    /** The link is back on gRPC, its segment gone, and both jobs exact. */
    void assertFellBackAndFinished(CompletableFuture<Job> job, SchedulerHold hold)
        throws Exception {
      Await.until(
          "the worker to be back on grpc",
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
    }
  }

  /**
   * Holds the coordinator's conductor until released. {@link Coordinator#run}'s future completes on
   * the conductor's thread, so a callback that blocks holds it. While held, nothing is dispatched
   * and no heartbeat is sent; the worker goes quiet once its running tasks are reported, and the
   * coordinator's shm reader, which never waits for the conductor, reads all it wrote.
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
   * Waits until {@code ring}'s producer has written nothing for 200 ms (ten polls): with the
   * scheduler held, the worker's running tasks (a few milliseconds each) are done and reported.
   */
  private static void awaitQuiet(SegmentFile.Ring ring, String producer)
      throws InterruptedException {
    long[] last = {-1};
    int[] unchanged = {0};
    Await.until(
        producer + " to stop writing into its ring",
        Duration.ofSeconds(10),
        () -> {
          long tail = ring.tail();
          unchanged[0] = tail == last[0] ? unchanged[0] + 1 : 0;
          last[0] = tail;
          return unchanged[0] >= 10;
        });
  }

  /** SIGKILLs the worker once the job is under way on it. */
  private static void killMidJob(CoordinatorClient client, WorkerInfo victim, String jobName)
      throws Exception {
    AtomicReference<Job> seen = new AtomicReference<>();
    Await.until(
        "the job to be under way on the worker",
        Duration.ofSeconds(30),
        () -> {
          seen.set(jobNamed(client, jobName));
          return seen.get().getTasksDone() >= 10 && onlyWorker(client).getBusy() > 0;
        },
        () -> "job: " + seen.get() + "\nworkers: " + client.workers());
    ProcessHandle process = ProcessHandle.of(victim.getPid()).orElseThrow();
    assertTrue(process.destroyForcibly(), "SIGKILL the worker");
    process.onExit().get(10, TimeUnit.SECONDS);
  }

  private Coordinator start(CoordinatorConfig config) throws Exception {
    // Faults under the shared-memory link, not the door: a plain-text coordinator.
    Coordinator coordinator =
        closeLater(
            Coordinator.start(
                config.listen("127.0.0.1", 0).security(new SecurityConfig().insecure(true))));
    coordinatorIds.add(coordinator.id());
    return coordinator;
  }

  private CoordinatorClient client(Coordinator coordinator) {
    return closeLater(new CoordinatorClient(new Address("127.0.0.1", coordinator.port())));
  }

  /** Closed in @AfterEach, last in first out (workers before their coordinator). */
  private <T extends AutoCloseable> T closeLater(T resource) {
    resources.push(resource);
    return resource;
  }

  private static WorkerConfig inProcessWorker(Coordinator coordinator, String id) {
    return new WorkerConfig()
        .join("127.0.0.1:" + coordinator.port())
        .id(id)
        .transport("auto")
        .slots(SLOTS);
  }

  private static JobSpec sum(long to, int tasks) {
    return JobSpec.newBuilder()
        .setSum(SumParams.newBuilder().setFrom(1).setTo(to))
        .setTasks(tasks)
        .build();
  }

  private static JobSpec named(JobSpec spec, String name) {
    return spec.toBuilder().setName(name).build();
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
              + client.list(List.of(), 5, false).getJobsList(),
          e);
    }
  }

  private static WorkerInfo onlyWorker(CoordinatorClient client) {
    List<WorkerInfo> workers = client.workers();
    assertEquals(1, workers.size(), workers::toString);
    return workers.getFirst();
  }

  private static Path onlySegment(Coordinator coordinator) {
    List<Path> segments = Leftovers.segmentsOf(coordinator.id());
    assertEquals(1, segments.size(), segments::toString);
    return segments.getFirst();
  }

  private static Job jobNamed(CoordinatorClient client, String name) {
    return client.list(List.of(), 100, false).getJobsList().stream()
        .filter(job -> job.getSpec().getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no job named " + name));
  }

  private static long attacherOf(Path segment) throws Exception {
    try (SegmentFile file = SegmentFile.map(segment)) {
      return file.attacherPid();
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      return "(cannot read " + file + ": " + e.getMessage() + ")";
    }
  }
}
