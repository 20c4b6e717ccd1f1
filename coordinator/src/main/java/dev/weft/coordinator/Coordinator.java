package dev.weft.coordinator;

import dev.weft.coordinator.security.LocalCoordinators;
import dev.weft.coordinator.security.LocalDoor;
import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.kinds.JobKinds;
import dev.weft.local.ShmSegment;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.WorkerServiceGrpc;
import dev.weft.wire.Transport;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A running coordinator: JobService for clients and WorkerService for workers on one port, plus
 * grpc.health.v1 and server reflection, so standard gRPC tools can talk to it.
 */
public final class Coordinator implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Coordinator.class.getName());
  private static final long DRAIN_WAIT_MS = 5_000;
  private static final long STREAMS_WAIT_MS = 1_000;
  private static final long AWAIT_POLL_MS = 5;

  private final String id;
  private final Server server;
  // Plain-text grpc.health.v1 alone, for probes that cannot speak TLS (the kubelet's); or null.
  private final Server probeServer;
  // The same services on a Unix socket, callers known by their uid (see LocalDoor); or null.
  private final UnixSocketServer socketServer;
  private final Conductor conductor;
  private final Scheduler scheduler;
  private final JobIntake intake;
  private final HealthStatusManager health;
  private final ScheduledExecutorService timers;
  private final ExecutorService events;
  private final ShmUpgrade upgrade;
  private final ShmUpgrade localUpgrade;
  private final LocalWorkers localWorkers;
  private final Journal journal;
  private final ServerSecurity security;
  // The HTTP port (metrics, the JSON API); or null.
  private final HttpApi http;
  // What /healthz says: false from the start of a shutdown on.
  private final AtomicBoolean serving;
  private final Object lifecycle = new Object();
  private boolean shutdown;
  // Whether this user's registry says this coordinator serves its port (see LocalCoordinators).
  private volatile boolean registered;
  // The lead of a PostgreSQL journal (or null), and the election made for it here (or null).
  private final LeaderElection.Leadership leadership;
  private final LeaderElection ownElection;
  // Why the lead was lost, once it was: the coordinator then stops without writing or draining.
  private volatile String lostLead;

  private Coordinator(
      String id,
      Server server,
      Server probeServer,
      UnixSocketServer socketServer,
      Conductor conductor,
      Scheduler scheduler,
      JobIntake intake,
      HealthStatusManager health,
      ScheduledExecutorService timers,
      ExecutorService events,
      ShmUpgrade upgrade,
      ShmUpgrade localUpgrade,
      LocalWorkers localWorkers,
      Journal journal,
      ServerSecurity security,
      HttpApi http,
      AtomicBoolean serving,
      LeaderElection.Leadership leadership,
      LeaderElection ownElection) {
    this.leadership = leadership;
    this.ownElection = ownElection;
    this.http = http;
    this.serving = serving;
    this.journal = journal;
    this.security = security;
    this.localUpgrade = localUpgrade;
    this.upgrade = upgrade;
    this.localWorkers = localWorkers;
    this.id = id;
    this.server = server;
    this.probeServer = probeServer;
    this.socketServer = socketServer;
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.intake = intake;
    this.health = health;
    this.timers = timers;
    this.events = events;
  }

  /**
   * Binds the configured address and starts serving. With a PostgreSQL journal it takes the lead of
   * that journal first, and fails when another coordinator holds it (see {@link
   * #start(CoordinatorConfig, LeaderElection.Leadership)} to stand by instead).
   */
  public static Coordinator start(CoordinatorConfig config) throws IOException {
    return start(config, (LeaderElection.Leadership) null);
  }

  /**
   * As {@link #start(CoordinatorConfig)}, as the leader of the PostgreSQL journal by {@code
   * leadership}: writes are made under its epoch, and when the lead is lost the coordinator stops
   * at once ({@link #lostLead()} says why).
   */
  public static Coordinator start(CoordinatorConfig config, LeaderElection.Leadership leadership)
      throws IOException {
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
            // A standby that takes the lead binds the port its standby server just left.
            .withOption(ChannelOption.SO_REUSEADDR, true)
            .maxInboundMessageSize(config.maxInboundMessageBytes())
            .maxInboundMetadataSize(64 * 1024)
            // A connection that never completes its handshake (a port scan, a half-open socket)
            // is dropped rather than held for the default two minutes.
            .handshakeTimeout(10, TimeUnit.SECONDS)
            .permitKeepAliveTime(5, TimeUnit.SECONDS)
            .permitKeepAliveWithoutCalls(true)
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS);
    return start(config, builder, config.host() + ":" + config.port(), security, true, leadership);
  }

  /** Starts on any server builder (tests use the in-process transport), in plain text. */
  static Coordinator start(CoordinatorConfig config, ServerBuilder<?> builder, String where)
      throws IOException {
    config.conclude();
    return start(config, builder, where, ServerSecurity.plaintext(config.security()), false, null);
  }

  private static Coordinator start(
      CoordinatorConfig config,
      ServerBuilder<?> builder,
      String where,
      ServerSecurity security,
      boolean socket,
      LeaderElection.Leadership given)
      throws IOException {
    String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    security.intercept(builder);
    LeaderElection ownElection = null;
    LeaderElection.Leadership leadership = given;
    if (config.journal() && config.postgresJournal() != null && leadership == null) {
      if (config.dataDir() != null) {
        // Said before the election, which would only name the journal's leader.
        DataDirLock.acquire(config.dataDir()).close();
      }
      ownElection = LeaderElection.connect(config);
      String address = config.advertise() != null ? config.advertise() : where;
      leadership = ownElection.leadNow(address, id);
      if (leadership == null) {
        String leader = ownElection.leaderHint();
        ownElection.close();
        throw new JournalUnavailableException(
            "another coordinator leads the journal at "
                + config.postgresJournal()
                + (leader == null ? "" : " (at " + leader + ")")
                + "; weft coordinator with the same --journal stands by until it can lead",
            null);
      }
    }
    try {
      return start(config, builder, where, security, socket, id, leadership, ownElection);
    } catch (IOException | RuntimeException e) {
      if (ownElection != null) {
        ownElection.close();
      } else if (leadership != null) {
        leadership.release();
      }
      throw e;
    }
  }

  private static Coordinator start(
      CoordinatorConfig config,
      ServerBuilder<?> builder,
      String where,
      ServerSecurity security,
      boolean socket,
      String id,
      LeaderElection.Leadership leadership,
      LeaderElection ownElection)
      throws IOException {
    // Before the scheduler, so a second coordinator on the same data dir stops before it serves.
    SqliteJournal sqlite = null;
    PostgresJournal postgres = null;
    if (config.journal() && config.postgresJournal() != null) {
      postgres =
          PostgresJournal.open(
              config.postgresJournal(),
              config.postgresPassword(),
              config.dataDir(),
              config.retention(),
              config.retainedFinishedJobs(),
              config.epochClock().getAsLong(),
              leadership.epoch(),
              config.leaderLeaseMs(),
              config.nanoClock());
    } else if (config.journal() && config.dataDir() != null) {
      sqlite =
          SqliteJournal.open(
              config.dataDir(),
              config.retention(),
              config.retainedFinishedJobs(),
              config.nanoClock());
    }
    Journal journal = sqlite != null ? sqlite : postgres != null ? postgres : Journal.NONE;
    List<Journal.SavedJob> saved =
        sqlite != null ? sqlite.saved() : postgres != null ? postgres.saved() : null;
    ScheduledExecutorService timers =
        Executors.newSingleThreadScheduledExecutor(daemon("weft-coordinator-timer"));
    // Task inputs that read files are read here, never on the conductor.
    ExecutorService events = Executors.newCachedThreadPool(daemon("weft-coordinator-io"));
    Conductor conductor = new Conductor(config.nanoClock(), config.epochClock());
    JobKinds kinds = config.kinds();
    JobIntake intake = new JobIntake(kinds, config.maxTasksPerJob(), ReadableRoots.of(config));
    Scheduler scheduler = new Scheduler(config, id, kinds, conductor, events, timers, journal);
    if (saved != null) {
      try {
        // Before the conductor starts: this thread is then the only one that touches the state.
        scheduler.restore(saved);
      } catch (RuntimeException e) {
        scheduler.releasePlans();
        timers.shutdownNow();
        events.shutdownNow();
        journal.close();
        throw e;
      }
      Runnable onCaughtUp = () -> conductor.post(scheduler::requestDispatch);
      java.util.function.BiConsumer<String, String> onSetAside =
          (jobId, why) -> conductor.post(() -> scheduler.notWritable(jobId, why));
      if (sqlite != null) {
        sqlite.start(onCaughtUp, onSetAside);
      } else {
        postgres.start(onCaughtUp, onSetAside);
      }
    }
    scheduler.startTimers();
    conductor.start();
    sweepStaleSegments();
    ShmUpgrade upgrade =
        new ShmUpgrade(
            conductor,
            scheduler,
            id,
            ShmUpgrade.Mode.valueOf(config.shmUpgrade().toUpperCase(Locale.ROOT)),
            timers);
    HealthStatusManager health = new HealthStatusManager();
    // The same services on every door (the port, the Unix socket); each door checks its callers.
    DashboardLogins logins = new DashboardLogins(security.dashboardSessions(config.nanoClock()));
    JobEndpoint jobs =
        new JobEndpoint(conductor, scheduler, intake, events, config.maxSubmitPriority(), logins);
    List<ServerServiceDefinition> services =
        List.of(
            ServerInterceptors.intercept(
                jobs,
                new ConnectionLimits(
                    config.maxCallsPerConnection(), config.maxWatchesPerConnection())),
            new WorkerEndpoint(conductor, scheduler, upgrade).bindService(),
            health.getHealthService().bindService(),
            ProtoReflectionServiceV1.newInstance().bindService(),
            ProtoReflectionService.newInstance().bindService());
    // Handlers only check, decode and post to the conductor (file work goes to `events`):
    // running them on the transport's threads saves a thread hand-off per call and message.
    builder.directExecutor();
    services.forEach(builder::addService);
    Server server = builder.build();
    try {
      server.start();
    } catch (IOException e) {
      conductor.close();
      scheduler.releasePlans();
      timers.shutdownNow();
      events.shutdownNow();
      journal.close();
      throw new IOException("cannot listen on " + where + ": " + e.getMessage(), e);
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(JobServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    health.setStatus(WorkerServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    ShmUpgrade localUpgrade = new ShmUpgrade(conductor, scheduler, id, ShmUpgrade.Mode.SHM, timers);
    LocalWorkers localWorkers =
        new LocalWorkers(
            config,
            conductor,
            scheduler,
            config.localTransport() == Transport.SHM ? localUpgrade : null,
            server.getPort(),
            security);
    Server probeServer = null;
    UnixSocketServer socketServer = null;
    HttpApi http = null;
    AtomicBoolean serving = new AtomicBoolean(true);
    try {
      probeServer = startProbeServer(config, health);
      if (socket) {
        socketServer = startSocketServer(config, services);
      }
      http = startHttp(config, security, jobs, logins, conductor, scheduler, journal, serving::get);
    } catch (IOException e) {
      if (probeServer != null) {
        probeServer.shutdownNow();
      }
      if (socketServer != null) {
        socketServer.close();
      }
      server.shutdownNow();
      conductor.close();
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
            socketServer,
            conductor,
            scheduler,
            intake,
            health,
            timers,
            events,
            upgrade,
            localUpgrade,
            localWorkers,
            journal,
            security,
            http,
            serving,
            leadership,
            ownElection);
    if (leadership != null) {
      leadership.onLost(coordinator::abandon);
      if (postgres != null) {
        postgres.onFenced(() -> coordinator.abandon("another coordinator leads the journal"));
      }
    }
    try {
      security.published(config.host(), server.getPort());
    } catch (IOException e) {
      coordinator.close();
      throw new DataDirException(
          "cannot record the join address under " + config.dataDir() + ": " + e.getMessage(), e);
    }
    if (security.tls() && config.dataDir() != null && security.adminToken().isPresent()) {
      coordinator.registered =
          LocalCoordinators.ofThisUser()
              .register(
                  server.getPort(),
                  config.dataDir(),
                  socketServer == null ? null : socketServer.path());
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
          .withOption(ChannelOption.SO_REUSEADDR, true)
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

  /**
   * The services on the Unix socket ({@link CoordinatorConfig#socketPath()}), or null when there is
   * none. A socket given explicitly that cannot be served fails the start; the default one (in the
   * data dir) only logs why and the coordinator goes on without it.
   */
  private static UnixSocketServer startSocketServer(
      CoordinatorConfig config, List<ServerServiceDefinition> services) throws IOException {
    java.nio.file.Path path = config.socketPath();
    if (path == null) {
      return null;
    }
    try {
      return UnixSocketServer.start(
          path, LocalDoor.of(config.allowedUids()), config.maxInboundMessageBytes(), services);
    } catch (IOException | RuntimeException e) {
      String why = "cannot serve the Unix socket " + path + ": " + e.getMessage();
      if (config.socketGiven() || !config.allowedUids().isEmpty()) {
        throw new UnixSocketException(why, e);
      }
      LOG.log(System.Logger.Level.WARNING, "{0}; going on without it (--socket none)", why);
      return null;
    }
  }

  /**
   * The HTTP port ({@link HttpApi}), or null when there is none. A port given explicitly that
   * cannot be served fails the start; the default one only logs why and the coordinator goes on
   * without it, as another coordinator on this host may hold it.
   */
  private static HttpApi startHttp(
      CoordinatorConfig config,
      ServerSecurity security,
      JobEndpoint jobs,
      DashboardLogins logins,
      Conductor conductor,
      Scheduler scheduler,
      Journal journal,
      BooleanSupplier serving)
      throws IOException {
    if (config.httpPort() < 0) {
      return null;
    }
    String where = config.httpHost() + ":" + config.httpPort();
    try {
      HttpApi http =
          HttpApi.start(
              new InetSocketAddress(config.httpHost(), config.httpPort()),
              SecurityConfig.isLoopback(config.httpHost()),
              security,
              jobs.bindService(),
              logins.sessions(),
              new CoordinatorMetrics(conductor, scheduler, journal, HttpApi.CALL_TIMEOUT_MS),
              serving,
              config.maxInboundMessageBytes());
      logins.serving(http);
      return http;
    } catch (IOException e) {
      String why = "cannot serve HTTP on " + where + ": " + e.getMessage();
      if (config.httpRequired()) {
        throw new HttpListenException(
            why + "; choose another with --http-listen HOST:PORT, or off", e);
      }
      LOG.log(System.Logger.Level.WARNING, "{0}; going on without it (--http-listen off)", why);
      return null;
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

  /** The Unix socket it serves (see {@link LocalDoor}), or null when it serves none. */
  public java.nio.file.Path socketPath() {
    return socketServer == null ? null : socketServer.path();
  }

  /** The bound HTTP port, or -1 when there is no HTTP port. */
  public int httpPort() {
    return http == null ? -1 : http.port();
  }

  /** Whether the HTTP port serves HTTPS. */
  public boolean httpTls() {
    return http != null && http.tls();
  }

  /** The bound port (useful when the configured port was 0). */
  public int port() {
    return server.getPort();
  }

  /**
   * Submits a job from inside this process (embedding, benchmarks) and completes with its final
   * state. Bad specs fail the future with the same INVALID_ARGUMENT status clients get. The future
   * completes on the conductor's thread, which must not be held up: chain work with the {@code
   * *Async} methods.
   */
  public CompletableFuture<Job> run(JobSpec spec) {
    JobIntake.Planned planned;
    try {
      planned = intake.plan(spec);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return conductor
        .ask(() -> scheduler.whenFinished(scheduler.submit(planned).job().id()))
        .thenCompose(finished -> finished);
  }

  /** Waits until at least {@code count} workers are attached; false when the timeout passed. */
  public boolean awaitWorkers(int count, Duration timeout) throws InterruptedException {
    return awaitState(() -> scheduler.workerCount() >= count, timeout);
  }

  /** Waits until some worker is on {@code transport}; false on timeout. */
  public boolean awaitTransport(Transport transport, Duration timeout) throws InterruptedException {
    return awaitState(() -> scheduler.anyWorkerOn(transport), timeout);
  }

  /** Asks the conductor every few milliseconds until {@code condition} holds or time runs out. */
  private boolean awaitState(BooleanSupplier condition, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      boolean met;
      try {
        met = conductor.ask(condition::getAsBoolean).get(Math.max(1, left), TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IllegalStateException("the coordinator could not answer", e.getCause());
      } catch (java.util.concurrent.TimeoutException e) {
        return false;
      }
      if (met) {
        return true;
      }
      if (deadline - System.nanoTime() <= 0) {
        return false;
      }
      TimeUnit.MILLISECONDS.sleep(AWAIT_POLL_MS);
    }
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
    serving.set(false);
    if (registered) {
      LocalCoordinators.ofThisUser().unregister(server.getPort());
    }
    localWorkers.stopRestarting();
    conductor.post(scheduler::stopAccepting);
    Thread.ofPlatform().name("weft-coordinator-stop").daemon(true).start(this::finishShutdown);
  }

  /**
   * Stops at once, as another coordinator leads the journal now: nothing more is written, workers'
   * links are cut so they find the leader, and the leader resumes the jobs from the journal.
   */
  private void abandon(String why) {
    if (lostLead == null) {
      lostLead = why;
      LOG.log(
          System.Logger.Level.ERROR,
          "coordinator {0} no longer leads the journal ({1}); stopping now",
          id,
          why);
    }
    shutdown();
  }

  /** Why this coordinator stopped leading its journal, or null while it leads or never did. */
  public String lostLead() {
    return lostLead;
  }

  private void finishShutdown() {
    try {
      if (lostLead != null) {
        awaitOnConductor(() -> scheduler.closeAllLinks("the coordinator no longer leads"));
        server.shutdownNow();
      }
      // Keep serving (health says NOT_SERVING) while workers hand back their tasks and detach.
      awaitState(() -> scheduler.workerCount() == 0, Duration.ofMillis(DRAIN_WAIT_MS));
      localWorkers.close();
      upgrade.closeAll();
      localUpgrade.closeAll();
      server.shutdown();
      if (socketServer != null) {
        socketServer.shutdown();
      }
      // Unary calls end in moments; streams that never end by themselves (a health watch, a
      // client's WatchJob) must not hold the exit up.
      boolean ended = server.awaitTermination(STREAMS_WAIT_MS, TimeUnit.MILLISECONDS);
      if (socketServer != null) {
        ended &= socketServer.awaitTermination(STREAMS_WAIT_MS / 4, TimeUnit.MILLISECONDS);
      }
      if (!ended) {
        awaitOnConductor(() -> scheduler.closeAllLinks("the coordinator stopped"));
        server.shutdownNow();
        server.awaitTermination(DRAIN_WAIT_MS, TimeUnit.MILLISECONDS);
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      if (http != null) {
        http.close();
      }
      if (probeServer != null) {
        probeServer.shutdownNow();
      }
      if (socketServer != null) {
        socketServer.close();
      }
      // Whatever the conductor still has queued (late hand-backs) is recorded before it stops.
      awaitOnConductor(() -> {});
      conductor.close();
      // The conductor is gone: this thread may touch the jobs. Files of unfinished ones close.
      scheduler.releasePlans();
      // Everything the scheduler recorded, down to the last links' hand-backs, is written now;
      // unless another coordinator leads, which resumes from what the journal holds.
      if (lostLead != null) {
        journal.abandon();
      } else {
        journal.close();
      }
      // Only then may a standby lead: the lock goes with the election's connection.
      if (ownElection != null) {
        ownElection.close();
      } else if (leadership != null) {
        leadership.release();
      }
      timers.shutdownNow();
      events.shutdown();
    }
  }

  /** Waits at most {@code timeout} for the server to stop; false when it still runs. */
  public boolean awaitTermination(Duration timeout) throws InterruptedException {
    return server.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
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

  /** Runs {@code action} on the conductor and waits (bounded) for it; for shutdown only. */
  private void awaitOnConductor(Runnable action) {
    try {
      conductor
          .ask(
              () -> {
                action.run();
                return null;
              })
          .get(DRAIN_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      LOG.log(System.Logger.Level.WARNING, "the conductor did not finish a shutdown step", e);
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
