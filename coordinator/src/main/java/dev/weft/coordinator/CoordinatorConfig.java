package dev.weft.coordinator;

import dev.weft.coordinator.security.SecurityConfig;
import dev.weft.coordinator.security.UidGrant;
import dev.weft.wire.Transport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Everything a coordinator is started with. Fluent setters; {@link #conclude()} fills defaults and
 * checks the rules between fields before the coordinator uses it.
 */
public final class CoordinatorConfig {
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 7070;
  public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
  public static final String DEFAULT_SOCKET_NAME = "coordinator.sock";

  private String host = DEFAULT_HOST;
  private int port = DEFAULT_PORT;
  private long heartbeatIntervalMs = 2_000;
  private long leaseMs = 10_000;
  private int maxInboundMessageBytes = 16 * 1024 * 1024;
  private int maxTasksPerJob = 1_000_000;
  private int maxUnfinishedJobs = ClientLimits.DEFAULT_MAX_UNFINISHED_JOBS;
  private long maxQueuedTasks = ClientLimits.DEFAULT_MAX_QUEUED_TASKS;
  private int maxUnfinishedJobsPerOwner = ClientLimits.DEFAULT_MAX_UNFINISHED_JOBS_PER_OWNER;
  private long maxQueuedTasksPerOwner = ClientLimits.DEFAULT_MAX_QUEUED_TASKS_PER_OWNER;
  private int maxResultBytes = ResultBudget.DEFAULT_MAX_RESULT_BYTES;
  private int maxCallsPerConnection = ConnectionLimits.DEFAULT_MAX_CALLS;
  private int maxWatchesPerConnection = ConnectionLimits.DEFAULT_MAX_WATCHES;
  private int retainedFinishedJobs = 10_000;
  private String probeHost = "127.0.0.1";
  private int probePort = -1;
  private String httpHost = "127.0.0.1";
  private int httpPort = -1;
  private boolean httpRequired;
  private Path dataDir;
  private boolean journal = true;
  private PostgresTarget postgresJournal;
  private String postgresPassword;
  private long leaderLeaseMs = 10_000;
  private String advertise;
  private Duration retention = DEFAULT_RETENTION;
  // Where hash jobs may read files: nowhere until the operator says.
  private List<Path> hashRoots = List.of();
  private Duration defaultGrace = Duration.ofSeconds(10);
  private long preemptAfterMs;
  private int maxSubmitPriority;
  private Map<String, Double> ownerWeights = Map.of();
  private String shmUpgrade = "auto";
  private int localWorkers;
  private Transport localTransport = Transport.PIPE;
  // As given, until conclude() checks it.
  private String localTransportName = Transport.PIPE.wireName();
  private int localWorkerSlots;
  private List<String> workerCommand = List.of();
  private SecurityConfig security = new SecurityConfig();
  // The Unix socket: null for the default (DATA_DIR/coordinator.sock), unless turned off.
  private Path socket;
  private boolean noSocket;
  private List<UidGrant> allowedUids = List.of();
  private dev.weft.kinds.JobKinds kinds; // null: the kinds on the coordinator's class path
  private LongSupplier nanoClock = System::nanoTime;
  private LongSupplier epochClock = System::currentTimeMillis;

  /**
   * The monotonic clock (nanoseconds) the coordinator's core reads once per duty cycle for leases,
   * timeouts and grace periods; {@link System#nanoTime} unless a test drives time itself.
   */
  public CoordinatorConfig nanoClock(LongSupplier value) {
    this.nanoClock = Objects.requireNonNull(value, "nanoClock");
    return this;
  }

  public LongSupplier nanoClock() {
    return nanoClock;
  }

  /**
   * The wall clock (Unix milliseconds) jobs record; {@link System#currentTimeMillis} by default.
   */
  public CoordinatorConfig epochClock(LongSupplier value) {
    this.epochClock = Objects.requireNonNull(value, "epochClock");
    return this;
  }

  public LongSupplier epochClock() {
    return epochClock;
  }

  /**
   * Also serve grpc.health.v1, alone and in plain text, on {@code host:port}: for probes that
   * cannot speak TLS, such as the kubelet's {@code grpc:} probe. Port -1 (the default) for none.
   */
  public CoordinatorConfig probeListen(String host, int port) {
    this.probeHost = Objects.requireNonNull(host, "host");
    this.probePort = port;
    return this;
  }

  /**
   * Also serve HTTP on {@code host:port}: {@code /metrics}, {@code /healthz} and the JSON API (see
   * {@link HttpApi}). Port -1 (the default) for none, 0 for any free one. When {@code required} is
   * false (the command line's default address), a port that cannot be bound is logged and the
   * coordinator goes on without HTTP; otherwise the start fails.
   */
  public CoordinatorConfig httpListen(String host, int port, boolean required) {
    this.httpHost = Objects.requireNonNull(host, "host");
    this.httpPort = port;
    this.httpRequired = required;
    return this;
  }

  public String httpHost() {
    return httpHost;
  }

  public int httpPort() {
    return httpPort;
  }

  public boolean httpRequired() {
    return httpRequired;
  }

  public String probeHost() {
    return probeHost;
  }

  public int probePort() {
    return probePort;
  }

  public CoordinatorConfig listen(String host, int port) {
    this.host = Objects.requireNonNull(host, "host");
    this.port = port;
    return this;
  }

  public CoordinatorConfig heartbeatIntervalMs(long value) {
    this.heartbeatIntervalMs = value;
    return this;
  }

  public CoordinatorConfig leaseMs(long value) {
    this.leaseMs = value;
    return this;
  }

  public CoordinatorConfig maxInboundMessageBytes(int value) {
    this.maxInboundMessageBytes = value;
    return this;
  }

  public CoordinatorConfig maxTasksPerJob(int value) {
    this.maxTasksPerJob = value;
    return this;
  }

  /** Jobs not yet finished, in total, beyond which submissions get RESOURCE_EXHAUSTED. */
  /** Unfinished jobs one owner (client token) may have at once. */
  public CoordinatorConfig maxUnfinishedJobsPerOwner(int value) {
    this.maxUnfinishedJobsPerOwner = value;
    return this;
  }

  public int maxUnfinishedJobsPerOwner() {
    return maxUnfinishedJobsPerOwner;
  }

  /** Tasks of unfinished jobs one owner may have at once. */
  public CoordinatorConfig maxQueuedTasksPerOwner(long value) {
    this.maxQueuedTasksPerOwner = value;
    return this;
  }

  public long maxQueuedTasksPerOwner() {
    return maxQueuedTasksPerOwner;
  }

  public CoordinatorConfig maxUnfinishedJobs(int value) {
    this.maxUnfinishedJobs = value;
    return this;
  }

  public int maxUnfinishedJobs() {
    return maxUnfinishedJobs;
  }

  /**
   * Tasks of unfinished jobs, in total, beyond which submissions get RESOURCE_EXHAUSTED; at least
   * {@link #maxTasksPerJob}, or the largest job allowed could never run.
   */
  public CoordinatorConfig maxQueuedTasks(long value) {
    this.maxQueuedTasks = value;
    return this;
  }

  public long maxQueuedTasks() {
    return maxQueuedTasks;
  }

  /**
   * Bytes of task output (exec's stdout and stderr tails) one job's result keeps, whatever its
   * workers send; beyond it tails are cut, and the result says so.
   */
  public CoordinatorConfig maxResultBytes(int value) {
    this.maxResultBytes = value;
    return this;
  }

  public int maxResultBytes() {
    return maxResultBytes;
  }

  /**
   * How long a job of a higher priority class may wait with no free slot before attempts of lower
   * classes are stopped to make room for it; 0 (the default) never preempts.
   */
  public CoordinatorConfig preemptAfterMs(long value) {
    this.preemptAfterMs = value;
    return this;
  }

  public long preemptAfterMs() {
    return preemptAfterMs;
  }

  /**
   * The highest priority class a client that is not an admin may submit at (a higher class takes
   * slots first and may preempt); admins may submit at any.
   */
  public CoordinatorConfig maxSubmitPriority(int value) {
    this.maxSubmitPriority = value;
    return this;
  }

  public int maxSubmitPriority() {
    return maxSubmitPriority;
  }

  /** Weights of owners' shares of the slots (an owner not named has weight 1). */
  public CoordinatorConfig ownerWeights(Map<String, Double> value) {
    this.ownerWeights = Map.copyOf(value);
    return this;
  }

  public Map<String, Double> ownerWeights() {
    return ownerWeights;
  }

  /** JobService calls one client connection may have in flight at once. */
  public CoordinatorConfig maxCallsPerConnection(int value) {
    this.maxCallsPerConnection = value;
    return this;
  }

  public int maxCallsPerConnection() {
    return maxCallsPerConnection;
  }

  /** WatchJob and RunJob streams one client connection may have open at once. */
  public CoordinatorConfig maxWatchesPerConnection(int value) {
    this.maxWatchesPerConnection = value;
    return this;
  }

  public int maxWatchesPerConnection() {
    return maxWatchesPerConnection;
  }

  /** How many finished jobs are kept (the newest), in memory and in the journal alike. */
  public CoordinatorConfig retainedFinishedJobs(int value) {
    this.retainedFinishedJobs = value;
    return this;
  }

  /**
   * Whether jobs are journaled under the data dir (default true); false keeps them in memory only,
   * the data dir then holding just the coordinator's keys and tokens.
   */
  public CoordinatorConfig journal(boolean value) {
    this.journal = value;
    return this;
  }

  public boolean journal() {
    return journal;
  }

  /**
   * Keeps the journal in this PostgreSQL database instead of the data dir ({@code password}: null
   * when the server asks for none); the data dir still holds the coordinator's keys and tokens.
   * Coordinators on one database elect a leader (see {@link LeaderElection}); the others stand by.
   */
  public CoordinatorConfig postgresJournal(PostgresTarget target, String password) {
    this.postgresJournal = Objects.requireNonNull(target, "target");
    this.postgresPassword = password;
    return this;
  }

  /** The PostgreSQL journal's database; null for the SQLite journal in the data dir. */
  public PostgresTarget postgresJournal() {
    return postgresJournal;
  }

  String postgresPassword() {
    return postgresPassword;
  }

  /**
   * How long a leader cut off from the PostgreSQL journal keeps leading: it stops within this, and
   * the database frees its lock for a standby after it.
   */
  public CoordinatorConfig leaderLeaseMs(long value) {
    if (value < 1_000 || value > 600_000) {
      throw new IllegalArgumentException(
          "the leader's lease must be from 1s to 10m, got " + value + " ms");
    }
    this.leaderLeaseMs = value;
    return this;
  }

  public long leaderLeaseMs() {
    return leaderLeaseMs;
  }

  /** Where clients and workers reach this coordinator, as standbys tell them; or null. */
  public CoordinatorConfig advertise(String hostPort) {
    this.advertise = hostPort;
    return this;
  }

  public String advertise() {
    return advertise;
  }

  /** Where the journal lives (see {@link #dataDir()}); null keeps jobs in memory only. */
  public CoordinatorConfig dataDir(Path value) {
    this.dataDir = value;
    return this;
  }

  /**
   * Serve the coordinator's services on this Unix socket too, its callers known by their uid
   * (SO_PEERCRED); by default {@code DATA_DIR/coordinator.sock}. A path that cannot be served fails
   * the start (the default one only logs a warning).
   */
  public CoordinatorConfig socket(Path value) {
    this.socket = Objects.requireNonNull(value, "socket");
    this.noSocket = false;
    return this;
  }

  /** No Unix socket ({@code --socket none}). */
  public CoordinatorConfig noSocket() {
    this.socket = null;
    this.noSocket = true;
    return this;
  }

  /** Local users besides the coordinator's own that the Unix socket lets in, with their rights. */
  public CoordinatorConfig allowUids(List<UidGrant> value) {
    this.allowedUids = List.copyOf(value);
    return this;
  }

  public List<UidGrant> allowedUids() {
    return allowedUids;
  }

  /** The Unix socket to serve: the one given, else one in the data dir; null for none. */
  public Path socketPath() {
    if (noSocket) {
      return null;
    }
    if (socket != null) {
      return socket;
    }
    return dataDir == null ? null : dataDir.resolve(DEFAULT_SOCKET_NAME);
  }

  /** Whether the socket was given ({@code --socket PATH}): then failing to serve it is an error. */
  public boolean socketGiven() {
    return socket != null;
  }

  /** How long finished jobs are kept, in memory and in the journal, after they ended. */
  public CoordinatorConfig retention(Duration value) {
    this.retention = Objects.requireNonNull(value, "retention");
    return this;
  }

  /**
   * The directories under which {@code hash} jobs may read files (never in the data dir); none by
   * default, and then hash jobs are refused.
   */
  public CoordinatorConfig hashRoots(List<Path> value) {
    this.hashRoots = List.copyOf(value);
    return this;
  }

  public List<Path> hashRoots() {
    return hashRoots;
  }

  public CoordinatorConfig defaultGrace(Duration value) {
    this.defaultGrace = Objects.requireNonNull(value, "defaultGrace");
    return this;
  }

  /**
   * Whether same-host workers attached over gRPC move to shared memory: {@code auto} when they can,
   * {@code grpc} never, {@code shm} always (workers that cannot are refused).
   */
  public CoordinatorConfig shmUpgrade(String mode) {
    this.shmUpgrade = Objects.requireNonNull(mode, "mode");
    return this;
  }

  /**
   * Workers this coordinator starts and supervises itself on its own host.
   *
   * @param count how many
   * @param transport {@code pipe} (their stdin/stdout), {@code shm} (pipes upgraded to shared
   *     memory) or {@code grpc} (they attach to our port like any worker)
   * @param slots slots per worker; 0 for the host's cores
   * @param command the command that runs {@code weft worker} (without its options)
   */
  public CoordinatorConfig localWorkers(
      int count, String transport, int slots, List<String> command) {
    this.localWorkers = count;
    this.localTransportName = Objects.requireNonNull(transport, "transport");
    this.localWorkerSlots = slots;
    this.workerCommand = List.copyOf(command);
    return this;
  }

  /** TLS, join tokens and client certificates (see {@link SecurityConfig}). */
  public CoordinatorConfig security(SecurityConfig value) {
    this.security = Objects.requireNonNull(value, "security");
    return this;
  }

  public SecurityConfig security() {
    return security;
  }

  /** Checks the fields against each other; returns this for chaining. */
  public CoordinatorConfig conclude() {
    if (probePort < -1 || probePort > 65_535) {
      throw new IllegalArgumentException("probe port must be 0..65535, got " + probePort);
    }
    if (httpPort < -1 || httpPort > 65_535) {
      throw new IllegalArgumentException("HTTP port must be 0..65535, got " + httpPort);
    }
    security.conclude(host);
    if (!List.of("auto", "grpc", "shm").contains(shmUpgrade)) {
      throw new IllegalArgumentException(
          "transport must be auto, grpc or shm, got '" + shmUpgrade + "'");
    }
    if (localWorkers < 0 || localWorkers > 256) {
      throw new IllegalArgumentException("local workers must be 0..256, got " + localWorkers);
    }
    if (!List.of("pipe", "shm", "grpc").contains(localTransportName)) {
      throw new IllegalArgumentException(
          "local transport must be pipe, shm or grpc, got '" + localTransportName + "'");
    }
    localTransport = Transport.ofWireName(localTransportName);
    if (localWorkers > 0 && workerCommand.isEmpty()) {
      throw new IllegalArgumentException("local workers need the command that starts a worker");
    }
    if (localWorkerSlots < 0 || localWorkerSlots > 4096) {
      throw new IllegalArgumentException(
          "local worker slots must be 0..4096, got " + localWorkerSlots);
    }
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("port must be 0..65535 (0 picks a free one), got " + port);
    }
    if (heartbeatIntervalMs <= 0) {
      throw new IllegalArgumentException(
          "heartbeatIntervalMs must be positive, got " + heartbeatIntervalMs);
    }
    if (leaseMs <= 2 * heartbeatIntervalMs) {
      throw new IllegalArgumentException(
          "leaseMs ("
              + leaseMs
              + ") must exceed twice heartbeatIntervalMs ("
              + heartbeatIntervalMs
              + ") so one lost heartbeat does not cost a worker its tasks");
    }
    if (maxInboundMessageBytes < 64 * 1024) {
      throw new IllegalArgumentException(
          "maxInboundMessageBytes must be at least 65536, got " + maxInboundMessageBytes);
    }
    if (maxTasksPerJob < 1) {
      throw new IllegalArgumentException(
          "maxTasksPerJob must be at least 1, got " + maxTasksPerJob);
    }
    if (maxUnfinishedJobs < 1) {
      throw new IllegalArgumentException(
          "max unfinished jobs must be at least 1, got " + maxUnfinishedJobs);
    }
    if (maxQueuedTasks < maxTasksPerJob) {
      throw new IllegalArgumentException(
          "max queued tasks ("
              + maxQueuedTasks
              + ") must be at least the tasks one job may have ("
              + maxTasksPerJob
              + "), or such a job could never run");
    }
    if (maxUnfinishedJobsPerOwner < 1) {
      throw new IllegalArgumentException(
          "max unfinished jobs per owner must be at least 1, got " + maxUnfinishedJobsPerOwner);
    }
    if (maxQueuedTasksPerOwner < maxTasksPerJob) {
      throw new IllegalArgumentException(
          "max queued tasks per owner ("
              + maxQueuedTasksPerOwner
              + ") must be at least the tasks one job may have ("
              + maxTasksPerJob
              + "), or such a job could never run");
    }
    if (maxResultBytes < ResultBudget.MIN_MAX_RESULT_BYTES) {
      throw new IllegalArgumentException(
          "max result bytes must be at least "
              + ResultBudget.MIN_MAX_RESULT_BYTES
              + " (one task's tails), got "
              + maxResultBytes);
    }
    if (maxCallsPerConnection < 1) {
      throw new IllegalArgumentException(
          "max calls per connection must be at least 1, got " + maxCallsPerConnection);
    }
    if (maxWatchesPerConnection < 1 || maxWatchesPerConnection > maxCallsPerConnection) {
      throw new IllegalArgumentException(
          "max watches per connection must be 1.."
              + maxCallsPerConnection
              + " (max calls per connection), got "
              + maxWatchesPerConnection);
    }
    if (retainedFinishedJobs < 1) {
      throw new IllegalArgumentException(
          "retainedFinishedJobs must be at least 1, got " + retainedFinishedJobs);
    }
    if (retention.isNegative() || retention.isZero()) {
      throw new IllegalArgumentException("retention must be positive, got " + retention);
    }
    if (!allowedUids.isEmpty() && socketPath() == null) {
      throw new IllegalArgumentException(
          "--allow-uid lets users in through the Unix socket, and there is none"
              + (noSocket ? " (--socket none)" : " without a data dir")
              + "; give --socket PATH");
    }
    if (defaultGrace.isNegative()) {
      throw new IllegalArgumentException("defaultGrace must not be negative, got " + defaultGrace);
    }
    if (preemptAfterMs < 0) {
      throw new IllegalArgumentException(
          "preemptAfterMs must not be negative, got " + preemptAfterMs);
    }
    ownerWeights.forEach(
        (owner, weight) -> {
          if (!(weight > 0 && weight <= 1_000_000)) {
            throw new IllegalArgumentException(
                "the share weight of owner '" + owner + "' must be in (0, 1000000], got " + weight);
          }
        });
    return this;
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  public long heartbeatIntervalMs() {
    return heartbeatIntervalMs;
  }

  public long leaseMs() {
    return leaseMs;
  }

  public int maxInboundMessageBytes() {
    return maxInboundMessageBytes;
  }

  public int maxTasksPerJob() {
    return maxTasksPerJob;
  }

  public int retainedFinishedJobs() {
    return retainedFinishedJobs;
  }

  /** {@code $XDG_DATA_HOME/weft}, else {@code ~/.local/share/weft}, as the XDG spec has it. */
  public static Path defaultDataDir() {
    String xdg = System.getenv("XDG_DATA_HOME");
    if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
      return Path.of(xdg, "weft");
    }
    // $HOME first, as the XDG spec and shells have it; user.home is the passwd entry's.
    String home = System.getenv("HOME");
    if (home == null || home.isBlank() || !Path.of(home).isAbsolute()) {
      home = System.getProperty("user.home");
    }
    return Path.of(home, ".local", "share", "weft");
  }

  /**
   * Where the journal lives ({@code journal.db}, locked through {@code coordinator.lock}); null
   * keeps jobs in memory only.
   */
  public Path dataDir() {
    return dataDir;
  }

  public Duration retention() {
    return retention;
  }

  public String shmUpgrade() {
    return shmUpgrade;
  }

  public int localWorkers() {
    return localWorkers;
  }

  public Transport localTransport() {
    return localTransport;
  }

  public int localWorkerSlots() {
    return localWorkerSlots;
  }

  public List<String> workerCommand() {
    return workerCommand;
  }

  /** The job kinds to plan and reduce with, e.g. the built-ins plus a plugin directory's. */
  public CoordinatorConfig kinds(dev.weft.kinds.JobKinds value) {
    this.kinds = Objects.requireNonNull(value, "kinds");
    return this;
  }

  public dev.weft.kinds.JobKinds kinds() {
    return kinds != null
        ? kinds
        : dev.weft.kinds.JobKinds.load(CoordinatorConfig.class.getClassLoader());
  }

  public Duration defaultGrace() {
    return defaultGrace;
  }
}
