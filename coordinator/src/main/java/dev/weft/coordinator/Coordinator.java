package dev.weft.coordinator;

import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.kinds.JobKinds;
import dev.weft.local.ShmSegment;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running coordinator: JobService for clients and WorkerService for workers on one port, plus
 * grpc.health.v1 and server reflection, so standard gRPC tools can talk to it.
 */
public final class Coordinator implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Coordinator.class.getName());
  private static final long DRAIN_WAIT_MS = 5_000;
  private static final long STREAMS_WAIT_MS = 1_000;

  private final String id;
  private final Server server;
  // Plain-text grpc.health.v1 alone, for probes that cannot speak TLS (the kubelet's); or null.
  private final Server probeServer;
  private final Scheduler scheduler;
  private final HealthStatusManager health;
  private final ScheduledExecutorService timers;
  private final ExecutorService events;
  private final SharedMemoryUpgrade upgrade;
  private final SharedMemoryUpgrade localUpgrade;
  private final LocalWorkers localWorkers;
  private final Journal journal;
  private final ServerSecurity security;
  private final Object lifecycle = new Object();
  private boolean shutdown;

  private Coordinator(
      String id,
      Server server,
      Server probeServer,
      Scheduler scheduler,
      HealthStatusManager health,
      ScheduledExecutorService timers,
      ExecutorService events,
      SharedMemoryUpgrade upgrade,
      SharedMemoryUpgrade localUpgrade,
      LocalWorkers localWorkers,
      Journal journal,
      ServerSecurity security) {
    this.journal = journal;
    this.security = security;
    this.localUpgrade = localUpgrade;
    this.upgrade = upgrade;
    this.localWorkers = localWorkers;
    this.id = id;
    this.server = server;
    this.probeServer = probeServer;
    this.scheduler = scheduler;
    this.health = health;
    this.timers = timers;
    this.events = events;
  }

  /** Binds the configured address and starts serving. */
  public static Coordinator start(CoordinatorConfig config) throws IOException {
    config.conclude();
    // TLS (the coordinator's own CA, or the user's certificates) and the join token's checks:
    // the default beyond loopback; see SecurityConfig.
    ServerSecurity security;
    try {
      security = ServerSecurity.prepare(config.security(), config.dataDir(), config.host());
    } catch (IOException e) {
      throw new DataDirException(
          "cannot prepare the TLS keys and join token under "
              + config.dataDir()
              + ": "
              + e.getMessage(),
          e);
    }
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(
                new InetSocketAddress(config.host(), config.port()), security.credentials())
            .maxInboundMessageSize(config.maxInboundMessageBytes())
            .maxInboundMetadataSize(64 * 1024)
            // A connection that never completes its handshake (a port scan, a half-open socket)
            // is dropped rather than held for the default two minutes.
            .handshakeTimeout(10, TimeUnit.SECONDS)
            .permitKeepAliveTime(5, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true)
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS);
    security.intercept(builder);
    return start(config, builder, config.host() + ":" + config.port(), security);
  }

  /** Starts on any server builder (tests use the in-process transport), in plain text. */
  static Coordinator start(CoordinatorConfig config, ServerBuilder<?> builder, String where)
      throws IOException {
    config.conclude();
    return start(config, builder, where, ServerSecurity.plaintext(config.security()));
  }

  private static Coordinator start(
      CoordinatorConfig config, ServerBuilder<?> builder, String where, ServerSecurity security)
      throws IOException {
    String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    // Before the scheduler, so a second coordinator on the same data dir stops before it serves.
    SqliteJournal sqlite =
        config.dataDir() == null
            ? null
            : SqliteJournal.open(
                config.dataDir(), config.retention(), config.retainedFinishedJobs());
    Journal journal = sqlite == null ? Journal.NONE : sqlite;
    ScheduledExecutorService timers =
        Executors.newSingleThreadScheduledExecutor(daemon("weft-coordinator-timer"));
    ExecutorService events = Executors.newCachedThreadPool(daemon("weft-coordinator-events"));
    Scheduler scheduler =
        new Scheduler(
            config,
            id,
            JobKinds.load(Coordinator.class.getClassLoader()),
            events,
            timers,
            System::nanoTime,
            journal);
    if (sqlite != null) {
      try {
        scheduler.restore(sqlite.saved());
      } catch (RuntimeException e) {
        timers.shutdownNow();
        events.shutdownNow();
        sqlite.close();
        throw e;
      }
      sqlite.start(scheduler::journalCaughtUp);
    }
    sweepStaleSegments();
    SharedMemoryUpgrade upgrade =
        new SharedMemoryUpgrade(
            scheduler,
            id,
            SharedMemoryUpgrade.Mode.valueOf(config.fastPath().toUpperCase(Locale.ROOT)),
            timers);
    HealthStatusManager health = new HealthStatusManager();
    Server server =
        builder
            .addService(new JobEndpoint(scheduler, new ReadableRoots(config.hashRoots())))
            .addService(new WorkerEndpoint(scheduler, upgrade))
            .addService(health.getHealthService())
            .addService(ProtoReflectionServiceV1.newInstance())
            .addService(ProtoReflectionService.newInstance())
            .build();
    try {
      server.start();
    } catch (IOException e) {
      timers.shutdownNow();
      events.shutdownNow();
      journal.close();
      throw new IOException("cannot listen on " + where + ": " + e.getMessage(), e);
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(JobServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    health.setStatus(WorkerServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    timers.scheduleAtFixedRate(
        () -> runQuietly(scheduler::tick),
        config.heartbeatIntervalMs(),
        config.heartbeatIntervalMs(),
        TimeUnit.MILLISECONDS);
    long pruneMs = Math.clamp(config.retention().toMillis() / 10, 1_000, 600_000);
    timers.scheduleAtFixedRate(
        () -> runQuietly(scheduler::pruneExpired), pruneMs, pruneMs, TimeUnit.MILLISECONDS);
    SharedMemoryUpgrade localUpgrade =
        new SharedMemoryUpgrade(scheduler, id, SharedMemoryUpgrade.Mode.SHM, timers);
    LocalWorkers localWorkers =
        new LocalWorkers(
            config,
            scheduler,
            config.localTransport().equals("shm") ? localUpgrade : null,
            server.getPort(),
            security);
    Server probeServer;
    try {
      probeServer = startProbeServer(config, health);
    } catch (IOException e) {
      server.shutdownNow();
      timers.shutdownNow();
      events.shutdownNow();
      journal.close();
      throw e;
    }
    Coordinator coordinator =
        new Coordinator(
            id,
            server,
            probeServer,
            scheduler,
            health,
            timers,
            events,
            upgrade,
            localUpgrade,
            localWorkers,
            journal,
            security);
    try {
      security.published(config.host(), server.getPort());
    } catch (IOException e) {
      coordinator.close();
      throw new DataDirException(
          "cannot record the join address under " + config.dataDir() + ": " + e.getMessage(), e);
    }
    try {
      localWorkers.start();
    } catch (IOException e) {
      coordinator.close();
      throw new IOException("cannot start local workers: " + e.getMessage(), e);
    }
    return coordinator;
  }

  /**
   * The health service alone on {@link CoordinatorConfig#probePort()}, in plain text: it says
   * SERVING or NOT_SERVING and nothing else, so it needs neither TLS nor the join token.
   */
  private static Server startProbeServer(CoordinatorConfig config, HealthStatusManager health)
      throws IOException {
    if (config.probePort() < 0) {
      return null;
    }
    String where = config.probeHost() + ":" + config.probePort();
    try {
      return NettyServerBuilder.forAddress(
              new InetSocketAddress(config.probeHost(), config.probePort()))
          .maxInboundMessageSize(64 * 1024)
          .handshakeTimeout(10, TimeUnit.SECONDS)
          .addService(health.getHealthService())
          .build()
          .start();
    } catch (IOException e) {
      throw new IOException(
          "cannot listen for health probes on " + where + ": " + e.getMessage(), e);
    }
  }

  /** Segments left by coordinators or workers that died without cleaning up. */
  private static void sweepStaleSegments() {
    try {
      for (java.nio.file.Path swept : ShmSegment.sweepStale()) {
        LOG.log(System.Logger.Level.INFO, "removed stale segment {0}", swept);
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "could not sweep stale shared-memory segments", e);
    }
  }

  public String id() {
    return id;
  }

  /** How the port is protected, and the join token to hand out. */
  public ServerSecurity security() {
    return security;
  }

  /** The bound port (useful when the configured port was 0). */
  public int port() {
    return server.getPort();
  }

  /**
   * Submits a job from inside this process (embedding, benchmarks) and completes with its final
   * state. Bad specs fail the future with the same INVALID_ARGUMENT status clients get. The future
   * completes on the scheduler's thread: chain work with the {@code *Async} methods.
   */
  public CompletableFuture<Job> run(JobSpec spec) {
    try {
      return scheduler.whenFinished(scheduler.submit(spec).getId());
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** Waits until at least {@code count} workers are attached; false when the timeout passed. */
  public boolean awaitWorkers(int count, Duration timeout) throws InterruptedException {
    return scheduler.awaitWorkers(count, timeout.toNanos());
  }

  /** Waits until some worker is on {@code transport} ("grpc", "pipe", "shm"); false on timeout. */
  public boolean awaitTransport(String transport, Duration timeout) throws InterruptedException {
    return scheduler.awaitTransport(transport, timeout.toNanos());
  }

  /**
   * Stops gracefully: reports NOT_SERVING, refuses new jobs, tells workers to detach, then stops
   * the server. Returns at once; {@link #awaitTermination} waits for the end.
   */
  public void shutdown() {
    synchronized (lifecycle) {
      if (shutdown) {
        return;
      }
      shutdown = true;
    }
    health.enterTerminalState();
    localWorkers.stopRestarting();
    scheduler.stopAccepting();
    Thread.ofPlatform().name("weft-coordinator-stop").daemon(true).start(this::finishShutdown);
  }

  private void finishShutdown() {
    try {
      // Keep serving (health says NOT_SERVING) while workers hand back their tasks and detach.
      scheduler.awaitNoWorkers(TimeUnit.MILLISECONDS.toNanos(DRAIN_WAIT_MS));
      localWorkers.close();
      upgrade.closeAll();
      localUpgrade.closeAll();
      server.shutdown();
      // Unary calls end in moments; streams that never end by themselves (a health watch, a
      // client's WatchJob) must not hold the exit up.
      if (!server.awaitTermination(STREAMS_WAIT_MS, TimeUnit.MILLISECONDS)) {
        scheduler.closeAllLinks("the coordinator stopped");
        server.shutdownNow();
        server.awaitTermination(DRAIN_WAIT_MS, TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      if (probeServer != null) {
        probeServer.shutdownNow();
      }
      // Everything the scheduler recorded, down to the last links' hand-backs, is written now.
      journal.close();
      timers.shutdownNow();
      events.shutdown();
    }
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
    timers.awaitTermination(DRAIN_WAIT_MS, TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    shutdown();
    try {
      awaitTermination();
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private static void runQuietly(Runnable action) {
    // A failing tick must not cancel the periodic task: log it and go on.
    try {
      action.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "coordinator tick failed", e);
    }
  }

  private static ThreadFactory daemon(String name) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, name + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
