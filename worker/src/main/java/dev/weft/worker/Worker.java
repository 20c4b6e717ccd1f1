package dev.weft.worker;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskProcessGroups;
import dev.weft.local.FrameReader;
import dev.weft.local.HostIdentity;
import dev.weft.posix.ProcessStat;
import dev.weft.security.CertificateRejectedException;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Hello;
import dev.weft.v1.TaskResult;
import dev.weft.v1.TaskResults;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import dev.weft.wire.LinkFrames;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running worker: attaches to its coordinator, runs the tasks it is given on its slots, and
 * re-attaches with backoff whenever the coordinator goes away. A worker on stdin/stdout (spawned by
 * its coordinator) has a single session and stops when its pipes close.
 */
public final class Worker implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Worker.class.getName());
  private static final String VERSION = "0.1.0";
  private static final int MAX_RESULTS_PER_MESSAGE = 1024;
  // Keeps a batch within one shared-memory ring frame (exec results carry output tails).
  private static final int MAX_RESULT_BYTES_PER_MESSAGE = 1 << 20;
  private static final long FAST_PATH_HEARTBEAT_MS = 500;
  private static final long ORPHAN_SWEEP_SECONDS = 30;
  private static final long FAST_PATH_STALE_MS = 5_000;
  // Tasks of a session that ended were requeued elsewhere: stop them soon.
  private static final long LEAVE_GRACE_MS = 2_000;

  private final WorkerConfig config;
  private final JobKinds kinds;
  private final TaskSlots slots;
  private final ManagedChannel channel;
  private final ScheduledExecutorService timers;
  private final ConcurrentLinkedQueue<TaskResult> pendingResults = new ConcurrentLinkedQueue<>();
  private final AtomicInteger flushing = new AtomicInteger();
  private final CountDownLatch terminated = new CountDownLatch(1);
  private final Object state = new Object();
  private Thread attachThread;
  private WorkerSession session;
  private boolean stopping;
  private boolean draining;
  private volatile boolean exitedStuck;
  private volatile String refusal;

  private Worker(WorkerConfig config) {
    this.config = config;
    this.kinds = JobKinds.load(Worker.class.getClassLoader());
    this.channel = config.stdio() ? null : channel(config);
    this.timers =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "weft-worker-timer");
              thread.setDaemon(true);
              return thread;
            });
    this.slots =
        new TaskSlots(
            config.slots(),
            kinds,
            this::enqueueResult,
            new TaskSlots.Listener() {
              @Override
              public void slotFreed() {
                WorkerSession current = current();
                if (current != null) {
                  current.slotFreed();
                }
              }

              @Override
              public void stuck(int stuck) {
                WorkerSession current = current();
                if (current != null) {
                  current.stuckChanged();
                }
                onStuck(stuck);
              }
            },
            timers);
  }

  /** Plain text, or TLS checked against the join token / --tls-ca, with the token on calls. */
  private static ManagedChannel channel(WorkerConfig config) {
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress(
                config.coordinatorHost(), config.coordinatorPort(), config.security().credentials())
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS)
            .maxInboundMessageSize(LinkFrames.MAX_MESSAGE_BYTES);
    if (config.security().serverName() != null) {
      builder.overrideAuthority(config.security().serverName());
    }
    return builder.build();
  }

  /** Starts the worker; it attaches (and re-attaches) in the background. */
  public static Worker start(WorkerConfig config) {
    config.conclude();
    sweepOrphans();
    Worker worker = new Worker(config);
    // Workers beside this one may die later: their leftovers should not wait for a new worker.
    // Off the timer thread, which beats the heartbeat: a sweep may wait seconds for a kill.
    worker.timers.scheduleWithFixedDelay(
        () -> Thread.ofVirtual().name("weft-orphan-sweep").start(Worker::sweepOrphans),
        ORPHAN_SWEEP_SECONDS,
        ORPHAN_SWEEP_SECONDS,
        TimeUnit.SECONDS);
    worker.attachThread =
        Thread.ofPlatform()
            .name("weft-worker-attach")
            .start(config.stdio() ? worker::stdioSession : worker::attachLoop);
    if (config.parentPid() > 0) {
      ProcessHandle.of(config.parentPid())
          .ifPresentOrElse(
              parent -> parent.onExit().thenRun(worker::close),
              () -> Thread.ofPlatform().start(worker::close));
    }
    return worker;
  }

  /** Kills task processes left by workers of this user on this host that died (SIGKILL). */
  private static void sweepOrphans() {
    int swept = TaskProcessGroups.sweepOrphans();
    if (swept > 0) {
      LOG.log(
          System.Logger.Level.WARNING,
          "killed {0} task process groups left running by workers that died",
          swept);
    }
  }

  public String id() {
    return config.id();
  }

  /** The transport the current session uses ("grpc", "pipe", "shm"), or empty when detached. */
  public String transport() {
    synchronized (state) {
      return session == null ? "" : session.transport();
    }
  }

  /**
   * Drains, then stops (SIGTERM): takes no new tasks, hands the queued ones back at once, lets the
   * running ones finish within the drain grace period, hands back what is still running, detaches.
   * Returns at once; {@link #awaitTermination} waits for the end. Idempotent.
   */
  public void drain(String reason) {
    synchronized (state) {
      if (stopping || draining) {
        return;
      }
      draining = true;
    }
    Thread.ofPlatform().name("weft-worker-drain").start(() -> drainThenClose(reason));
  }

  private void drainThenClose(String reason) {
    WorkerSession current = current();
    List<Long> handedBack = slots.handBackUnstarted();
    if (current != null) {
      current.drain(reason, handedBack);
    }
    LOG.log(
        System.Logger.Level.INFO,
        "draining ({0}): {1} queued tasks handed back, waiting up to {2} ms for {3} running",
        reason,
        handedBack.size(),
        config.drainGraceMs(),
        slots.busy());
    try {
      if (!slots.awaitIdle(System.nanoTime() + config.drainGraceMs() * 1_000_000)) {
        LOG.log(
            System.Logger.Level.INFO,
            "{0} tasks still running after the drain grace period: handing them back",
            slots.busy());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    close();
  }

  /** A task is stuck: when no slot is left for new work (or we were asked to), make way. */
  private void onStuck(int stuck) {
    if (config.exitWhenStuck() || stuck >= config.slots()) {
      LOG.log(
          System.Logger.Level.WARNING,
          "{0} of {1} slots held by stuck tasks: draining and exiting so this worker can be"
              + " started afresh",
          stuck,
          config.slots());
      exitedStuck = true;
      drain("tasks are stuck");
    }
  }

  /**
   * Why the coordinator refused this worker for good (a join token it does not accept, a
   * certificate that is not the one the token pins); the worker stopped. Empty otherwise.
   */
  public Optional<String> refusal() {
    return Optional.ofNullable(refusal);
  }

  /** Trying again cannot help: stop, so the user (or a supervisor) sees why at once. */
  private void refusedForGood(String why) {
    synchronized (state) {
      if (refusal != null) {
        return;
      }
      refusal = why;
    }
    LOG.log(System.Logger.Level.ERROR, "{0}; stopping", why);
    Thread.ofPlatform().name("weft-worker-refused").start(this::close);
  }

  /** True when the worker stopped because stuck tasks held its slots (exit non-zero). */
  public boolean exitedStuck() {
    return exitedStuck;
  }

  private WorkerSession current() {
    synchronized (state) {
      return session;
    }
  }

  /**
   * SIGKILLs every task process this worker runs, without a grace period: for a second stop signal,
   * right before the process exits.
   */
  public void killTasksNow() {
    TaskProcessGroups.killThisProcessTasks();
  }

  /** Returns once the worker has stopped. */
  public void awaitTermination() throws InterruptedException {
    terminated.await();
  }

  /** Detaches (handing back unfinished tasks) and stops. Idempotent. */
  @Override
  public void close() {
    WorkerSession current;
    synchronized (state) {
      if (stopping) {
        return;
      }
      stopping = true;
      current = session;
      state.notifyAll();
    }
    if (current != null) {
      current.leave("the worker is stopping");
    }
    slots.shutdown(LEAVE_GRACE_MS);
    try {
      if (channel != null) {
        channel.shutdown();
        if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
          channel.shutdownNow();
        }
      }
      if (attachThread != null && attachThread != Thread.currentThread()) {
        attachThread.join(TimeUnit.SECONDS.toMillis(5));
      }
      slots.awaitTermination(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      if (channel != null) {
        channel.shutdownNow();
      }
      Thread.currentThread().interrupt();
    } finally {
      timers.shutdownNow();
      terminated.countDown();
    }
  }

  private FastPathClient fastPath() {
    return config.transport().equals("grpc")
        ? null
        : new FastPathClient(FAST_PATH_HEARTBEAT_MS, FAST_PATH_STALE_MS);
  }

  private boolean begin(WorkerSession next) {
    synchronized (state) {
      if (stopping || draining) {
        return false;
      }
      session = next;
      return true;
    }
  }

  private void end(WorkerSession finished) {
    synchronized (state) {
      if (session == finished) {
        session = null;
      }
    }
    // Whatever was running belonged to the old session: the coordinator has requeued it.
    slots.cancelAll(LEAVE_GRACE_MS);
  }

  /** gRPC: attach, run the session to its end, back off, attach again, until closed. */
  private void attachLoop() {
    long backoffMs = config.reconnectInitialMs();
    while (true) {
      GrpcAttach attach = new GrpcAttach();
      WorkerSession current =
          new WorkerSession(attach, slots, this::creditToAnnounce, timers, fastPath());
      attach.session = current;
      if (!begin(current)) {
        return;
      }
      WorkerServiceGrpc.newStub(channel).attach(attach);
      current.start(hello());
      boolean welcomed;
      try {
        welcomed = current.await();
      } catch (InterruptedException e) {
        attach.abort("worker interrupted");
        Thread.currentThread().interrupt();
        return;
      } finally {
        end(current);
      }
      backoffMs =
          welcomed ? config.reconnectInitialMs() : Math.min(backoffMs * 2, config.reconnectMaxMs());
      if (!pause(backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1))) {
        return;
      }
    }
  }

  /** Waits before the next attach; false when the worker is stopping. */
  private boolean pause(long waitMs) {
    synchronized (state) {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
      while (!stopping) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return true;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(state, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return false;
    }
  }

  /** stdin/stdout: one session; when the coordinator closes the pipe, the worker stops. */
  private void stdioSession() {
    // Our stdout is the link: anything else that prints must go to stderr.
    PipeCoordinatorLink link =
        new PipeCoordinatorLink(
            new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
    System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true));
    InputStream in = new BufferedInputStream(new FileInputStream(FileDescriptor.in), 1 << 16);
    WorkerSession current =
        new WorkerSession(link, slots, this::creditToAnnounce, timers, fastPath());
    if (!begin(current)) {
      return;
    }
    current.start(hello());
    FrameReader reader = new FrameReader(in, LinkFrames.MAX_MESSAGE_BYTES, LinkFrames.MAX_TYPE);
    String reason = "the coordinator closed the pipe";
    try {
      while (reader.read(
          (type, payload) -> {
            try {
              current.onMessage(CoordinatorMessage.parseFrom(payload));
            } catch (InvalidProtocolBufferException e) {
              throw new IllegalStateException("unreadable frame from the coordinator", e);
            }
          })) {
        // each frame is handled inside read
      }
    } catch (IOException | IllegalStateException e) {
      reason = "the pipe from the coordinator failed: " + e.getMessage();
    }
    LOG.log(System.Logger.Level.INFO, "{0}; stopping", reason);
    current.ended(reason);
    end(current);
    Thread.ofPlatform().start(this::close);
  }

  /** Free slots plus prefetch: slots held by stuck tasks are not offered. */
  private int creditToAnnounce() {
    return Math.max(0, config.slots() - slots.stuck()) + config.prefetch();
  }

  private void enqueueResult(TaskResult result) {
    pendingResults.add(result);
    flushResults();
  }

  /**
   * Sends queued results in batches; concurrent callers leave the work to the one already at it.
   */
  private void flushResults() {
    if (flushing.getAndIncrement() != 0) {
      return;
    }
    do {
      List<TaskResult> batch = new ArrayList<>();
      int bytes = 0;
      TaskResult next;
      while ((next = pendingResults.poll()) != null) {
        batch.add(next);
        bytes += next.getSerializedSize();
        if (batch.size() == MAX_RESULTS_PER_MESSAGE || bytes >= MAX_RESULT_BYTES_PER_MESSAGE) {
          sendResults(batch);
          batch = new ArrayList<>();
          bytes = 0;
        }
      }
      if (!batch.isEmpty()) {
        sendResults(batch);
      }
    } while (flushing.decrementAndGet() != 0);
  }

  private void sendResults(List<TaskResult> batch) {
    WorkerSession current;
    synchronized (state) {
      current = session;
    }
    if (current != null) {
      current.send(
          WorkerMessage.newBuilder()
              .setResults(TaskResults.newBuilder().addAllResults(batch))
              .build());
    }
  }

  /** The gRPC Attach stream as the session's control link. */
  private final class GrpcAttach
      implements CoordinatorLink, ClientResponseObserver<WorkerMessage, CoordinatorMessage> {
    private volatile GrpcCoordinatorLink link;
    private volatile WorkerSession session;

    @Override
    public void beforeStart(ClientCallStreamObserver<WorkerMessage> requests) {
      link = new GrpcCoordinatorLink(requests);
    }

    @Override
    public void send(WorkerMessage message) {
      GrpcCoordinatorLink current = link;
      if (current != null) {
        current.send(message);
      }
    }

    @Override
    public String transport() {
      return "grpc";
    }

    @Override
    public void close() {
      GrpcCoordinatorLink current = link;
      if (current != null) {
        current.close();
      }
    }

    @Override
    public void abort(String reason) {
      GrpcCoordinatorLink current = link;
      if (current != null) {
        current.abort(reason);
      }
    }

    @Override
    public void onNext(CoordinatorMessage message) {
      session.onMessage(message);
    }

    @Override
    public void onError(Throwable t) {
      link.markClosed();
      Status status = Status.fromThrowable(t);
      String reason =
          "attach to "
              + config.coordinatorHost()
              + ":"
              + config.coordinatorPort()
              + " ended: "
              + status.getCode()
              + (status.getDescription() == null ? "" : " " + status.getDescription());
      String coordinator = config.coordinatorHost() + ":" + config.coordinatorPort();
      Optional<CertificateRejectedException> certificate = CertificateRejectedException.in(t);
      switch (status.getCode()) {
        // Refusals of the token, the certificate or a transport that cannot work between the two
        // (shared memory across hosts) repeat on every attempt: stop instead.
        case UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION ->
            refusedForGood(
                "the coordinator at "
                    + coordinator
                    + " refused this worker: "
                    + status.getDescription());
        case INVALID_ARGUMENT -> session.refused(reason);
        default -> {
          if (certificate.isPresent()) {
            refusedForGood(certificate.get().getMessage());
          } else {
            LOG.log(
                System.Logger.Level.INFO,
                config
                    .security()
                    .mismatch(status)
                    .map(hint -> "attach to " + coordinator + " failed: " + hint)
                    .orElse(reason));
          }
        }
      }
      session.ended(reason);
    }

    @Override
    public void onCompleted() {
      link.close();
      session.ended("the coordinator ended the stream");
    }
  }

  private Hello hello() {
    HostIdentity host = HostIdentity.current();
    Hello.Builder hello =
        Hello.newBuilder()
            .setWorkerId(config.id())
            .setPid(ProcessHandle.current().pid())
            .setSlots(config.slots())
            .addAllKinds(kinds.names())
            .setHost(
                dev.weft.v1.HostIdentity.newBuilder()
                    .setHostname(host.hostname())
                    .setMachineId(host.machineId())
                    .setBootId(host.bootId())
                    .setShmDevice(host.shmDevice())
                    .setNetNamespace(host.netNamespace())
                    .setPidNamespace(HostIdentity.pidNamespace())
                    .setUid(host.uid()))
            .setProcessStartTicks(ProcessStat.self().startTicks())
            .setVersion(VERSION);
    if (!config.transport().equals("shm")) {
      hello.addTransports(config.stdio() ? "pipe" : "grpc");
    }
    if (!config.transport().equals("grpc") && Files.isDirectory(Path.of("/dev/shm"))) {
      hello.addTransports("shm");
    }
    return hello.build();
  }
}
