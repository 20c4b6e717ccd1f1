package dev.weft.worker;

import dev.weft.local.HostIdentity;
import dev.weft.security.ClientSecurity;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Everything a worker is started with. Fluent setters; {@link #conclude()} fills defaults and
 * checks the rules between fields.
 */
public final class WorkerConfig {
  /** {@link #prefetch(int)} for "as many as the slots", what {@code --prefetch auto} means. */
  public static final int AUTO_PREFETCH = -1;

  private static final int MAX_PREFETCH = 65_536;

  /** What label keys and values, and the names of the operator's own resources, are made of. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._/-]+");

  private static final Set<String> BUILT_IN_RESOURCES = Set.of("cpu", "mem", "gpu");

  private List<CoordinatorAddress> coordinators =
      List.of(new CoordinatorAddress("127.0.0.1", 7070));
  private String id = "";
  private int slots = Runtime.getRuntime().availableProcessors();
  private int prefetch = AUTO_PREFETCH;
  private long reconnectInitialMs = 200;
  private long reconnectMaxMs = 5_000;
  private long parentPid = -1;
  private String transport = "auto";
  private boolean stdio;
  private long drainGraceMs = 10_000;
  private boolean exitWhenStuck;
  private java.nio.file.Path logDir; // null: TaskLogs' default for the worker's id
  private long taskLogBytes = dev.weft.kinds.TaskLogs.DEFAULT_MAX_BYTES;
  private long logRetentionMs = java.time.Duration.ofHours(24).toMillis();
  private Function<CoordinatorAddress, ClientSecurity> security = address -> new ClientSecurity();
  private long cpuMillis = -1; // unset: one CPU per slot
  private long memBytes = -1; // unset: WorkerMemory's
  private int gpus;
  private final Map<String, Long> customResources = new TreeMap<>();
  private final Map<String, String> labels = new TreeMap<>();
  private String httpHost;
  private dev.weft.kinds.JobKinds kinds; // null: the kinds on the worker's class path
  private int httpPort = -1; // -1: no HTTP port
  private boolean httpPlainBeyondLoopback;
  private java.net.InetAddress httpAddress; // resolved by conclude()

  /**
   * The coordinator's address as {@code HOST:PORT} (IPv6 hosts in brackets), or several separated
   * by commas: coordinators sharing one journal, of which the worker follows the leader.
   */
  public WorkerConfig join(String hostPorts) {
    this.coordinators = CoordinatorAddress.parseList(hostPorts);
    return this;
  }

  /** The job kinds to run tasks with, e.g. the built-ins plus a plugin directory's. */
  public WorkerConfig kinds(dev.weft.kinds.JobKinds value) {
    this.kinds = Objects.requireNonNull(value, "kinds");
    return this;
  }

  public dev.weft.kinds.JobKinds kinds() {
    return kinds != null
        ? kinds
        : dev.weft.kinds.JobKinds.load(WorkerConfig.class.getClassLoader());
  }

  public WorkerConfig id(String value) {
    this.id = Objects.requireNonNull(value, "id");
    return this;
  }

  public WorkerConfig slots(int value) {
    this.slots = value;
    return this;
  }

  /**
   * Tasks queued on the worker beyond its slots, so a busy worker never waits for a round trip;
   * {@link #AUTO_PREFETCH} (the default) for as many as the slots.
   */
  public WorkerConfig prefetch(int value) {
    this.prefetch = value;
    return this;
  }

  /**
   * {@code auto} or a number of tasks, as {@code --prefetch} takes it.
   *
   * @throws IllegalArgumentException naming the allowed values
   */
  public WorkerConfig prefetch(String value) {
    Objects.requireNonNull(value, "prefetch");
    if (value.equals("auto")) {
      return prefetch(AUTO_PREFETCH);
    }
    int tasks;
    try {
      tasks = Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(prefetchRule(value), e);
    }
    if (tasks < 0 || tasks > MAX_PREFETCH) {
      throw new IllegalArgumentException(prefetchRule(value));
    }
    return prefetch(tasks);
  }

  private static String prefetchRule(String got) {
    return "prefetch must be auto or a number of tasks 0.." + MAX_PREFETCH + ", got '" + got + "'";
  }

  public WorkerConfig reconnectBackoffMs(long initialMs, long maxMs) {
    this.reconnectInitialMs = initialMs;
    this.reconnectMaxMs = maxMs;
    return this;
  }

  /** Exit when this process ends (for workers a coordinator or demo spawned); -1 for none. */
  public WorkerConfig parentPid(long value) {
    this.parentPid = value;
    return this;
  }

  /**
   * {@code auto} takes the shared-memory upgrade when the coordinator offers it, {@code grpc} never
   * does, {@code shm} insists on it (the coordinator refuses the worker otherwise).
   */
  public WorkerConfig transport(String value) {
    this.transport = Objects.requireNonNull(value, "transport");
    return this;
  }

  /** Talk to the coordinator over stdin/stdout (a worker the coordinator spawned itself). */
  public WorkerConfig stdio(boolean value) {
    this.stdio = value;
    return this;
  }

  /**
   * How long a draining worker (SIGTERM) lets its running tasks finish before it hands the rest
   * back to the coordinator.
   */
  /** Where the worker keeps its exec tasks' logs. */
  public WorkerConfig logDir(java.nio.file.Path value) {
    this.logDir = Objects.requireNonNull(value, "logDir");
    return this;
  }

  /** The newest bytes of each output stream of a task kept in its log; 0 keeps no logs. */
  public WorkerConfig taskLogBytes(long value) {
    this.taskLogBytes = value;
    return this;
  }

  /** How long a task's log is kept after it was last written. */
  public WorkerConfig logRetentionMs(long value) {
    this.logRetentionMs = value;
    return this;
  }

  public WorkerConfig drainGraceMs(long value) {
    this.drainGraceMs = value;
    return this;
  }

  /**
   * Drain and exit (for a supervisor to restart the worker) as soon as one task is stuck, rather
   * than only when stuck tasks hold every slot.
   */
  public WorkerConfig exitWhenStuck(boolean value) {
    this.exitWhenStuck = value;
    return this;
  }

  /** Thousandths of a CPU the worker's tasks may ask for in all (default: one CPU per slot). */
  public WorkerConfig cpuMillis(long value) {
    this.cpuMillis = value;
    return this;
  }

  /**
   * Bytes of memory the worker's tasks may ask for in all (default: what the worker's cgroup lets
   * it use, else the host's memory).
   */
  public WorkerConfig memBytes(long value) {
    this.memBytes = value;
    return this;
  }

  /** GPUs the worker has, numbered from 0 for the tasks given them (default: none). */
  public WorkerConfig gpus(int value) {
    this.gpus = value;
    return this;
  }

  /**
   * A resource the operator names (licences, scratch disks...), in units of its own: tasks that ask
   * for it are placed where enough of it is free.
   *
   * @throws IllegalArgumentException for a bad or built-in name, or a name given twice
   */
  public WorkerConfig resource(String name, long amount) {
    Objects.requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "a resource name is letters, digits and . _ / - (got '" + name + "')");
    }
    if (BUILT_IN_RESOURCES.contains(name.toLowerCase(Locale.ROOT))) {
      throw new IllegalArgumentException(
          "'" + name + "' is a built-in resource: write it as cpu, mem or gpu");
    }
    if (customResources.putIfAbsent(name, amount) != null) {
      throw new IllegalArgumentException("resource " + name + " is given twice");
    }
    return this;
  }

  /**
   * A label jobs may require of the workers their tasks run on ({@code zone=eu-west}).
   *
   * @throws IllegalArgumentException for a bad key or value, or a key given twice
   */
  public WorkerConfig label(String key, String value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    if (!NAME.matcher(key).matches() || !NAME.matcher(value).matches()) {
      throw new IllegalArgumentException(
          "a label is KEY=VALUE, both of letters, digits and . _ / - (got '"
              + key
              + "="
              + value
              + "')");
    }
    if (labels.putIfAbsent(key, value) != null) {
      throw new IllegalArgumentException(
          "label " + key + " is given twice (" + labels.get(key) + " and " + value + ")");
    }
    return this;
  }

  /**
   * Serve {@code /metrics} and {@code /healthz} on {@code host:port} (port 0: any free one), in
   * plain text: a worker has no certificate of its own. Beyond loopback only with {@code
   * plainBeyondLoopback}, meant for a worker that talks plain text to its coordinator anyway.
   */
  public WorkerConfig httpListen(String host, int port, boolean plainBeyondLoopback) {
    this.httpHost = Objects.requireNonNull(host, "host");
    this.httpPort = port;
    this.httpPlainBeyondLoopback = plainBeyondLoopback;
    return this;
  }

  /** TLS and the join token for the coordinator (plain text by default). */
  public WorkerConfig security(ClientSecurity value) {
    Objects.requireNonNull(value, "security");
    this.security = address -> value;
    return this;
  }

  /**
   * The same, asked again before each attach: for a worker that learns its token only once its
   * coordinator has run (a local one, through its user's registry). While it answers null the
   * worker does not attach, and asks again after its back-off.
   */
  public WorkerConfig security(java.util.function.Supplier<ClientSecurity> source) {
    Objects.requireNonNull(source, "security");
    this.security = address -> source.get();
    return this;
  }

  /**
   * The same, for each coordinator address (a leader a standby names included): a local
   * coordinator's token is found by its port.
   */
  public WorkerConfig security(Function<CoordinatorAddress, ClientSecurity> perAddress) {
    this.security = Objects.requireNonNull(perAddress, "security");
    return this;
  }

  /** The settings for the first address as they are now; null while there are none. */
  public ClientSecurity security() {
    return security(coordinators.getFirst());
  }

  /** The settings for {@code address} as they are now; null while there are none. */
  public ClientSecurity security(CoordinatorAddress address) {
    return security.apply(address);
  }

  public WorkerConfig conclude() {
    ClientSecurity now = stdio ? null : security();
    if (now != null) {
      now.conclude();
    }
    if (!transport.equals("auto") && !transport.equals("grpc") && !transport.equals("shm")) {
      throw new IllegalArgumentException(
          "transport must be auto, grpc or shm, got '" + transport + "'");
    }
    if (slots < 1 || slots > 4096) {
      throw new IllegalArgumentException("slots must be 1..4096, got " + slots);
    }
    if (prefetch == AUTO_PREFETCH) {
      // One more task per slot covers the round trip that returns a result and brings the next
      // task, so a slot finds work waiting; more only queues work another worker could run.
      prefetch = slots;
    } else if (prefetch < 0 || prefetch > MAX_PREFETCH) {
      throw new IllegalArgumentException(prefetchRule(String.valueOf(prefetch)));
    }
    if (reconnectInitialMs <= 0 || reconnectMaxMs < reconnectInitialMs) {
      throw new IllegalArgumentException(
          "reconnect backoff must satisfy 0 < initial ("
              + reconnectInitialMs
              + ") <= max ("
              + reconnectMaxMs
              + ")");
    }
    if (drainGraceMs < 0 || drainGraceMs > 3_600_000) {
      throw new IllegalArgumentException("drain grace must be 0s..1h, got " + drainGraceMs + " ms");
    }
    if (id.isEmpty()) {
      id = HostIdentity.localHostname() + "-" + ProcessHandle.current().pid();
    }
    if (taskLogBytes < 0) {
      throw new IllegalArgumentException(
          "task log bytes must not be negative (0 keeps no logs), got " + taskLogBytes);
    }
    if (logRetentionMs <= 0) {
      throw new IllegalArgumentException(
          "log retention must be positive, got " + logRetentionMs + " ms");
    }
    if (logDir == null) {
      logDir = dev.weft.kinds.TaskLogs.defaultDirectory(id);
    }
    concludeResources();
    concludeHttp();
    return this;
  }

  private void concludeHttp() {
    if (httpPort == -1) {
      return;
    }
    if (httpPort < 0 || httpPort > 65_535) {
      throw new IllegalArgumentException("HTTP port must be 0..65535, got " + httpPort);
    }
    String bare =
        httpHost.startsWith("[") && httpHost.endsWith("]")
            ? httpHost.substring(1, httpHost.length() - 1)
            : httpHost;
    try {
      // Resolved once: the address checked is the address bound.
      httpAddress = java.net.InetAddress.getByName(bare);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException("cannot resolve the HTTP host '" + httpHost + "'", e);
    }
    if (!httpAddress.isLoopbackAddress() && !httpPlainBeyondLoopback) {
      throw new IllegalArgumentException(
          "--http-listen "
              + (bare.contains(":") ? "[" + bare + "]" : bare)
              + ":"
              + httpPort
              + " is beyond loopback: a worker serves HTTP in plain text only, having no"
              + " certificate of its own, so it listens on loopback (127.0.0.1:PORT or [::1]:PORT)"
              + " unless it runs --insecure; scrape it from its host, or use off");
    }
  }

  /** The HTTP port to serve, -1 for none; 0 for any free one. */
  public int httpPort() {
    return httpPort;
  }

  /** After {@link #conclude()}, the resolved HTTP host; null when there is no HTTP port. */
  public java.net.InetAddress httpAddress() {
    return httpAddress;
  }

  private void concludeResources() {
    if (cpuMillis == -1) {
      cpuMillis = slots * 1_000L;
    }
    if (memBytes == -1) {
      memBytes = WorkerMemory.detect();
    }
    if (cpuMillis < 0) {
      throw new IllegalArgumentException("cpu must not be negative, got " + cpuMillis + " millis");
    }
    if (memBytes < 0) {
      throw new IllegalArgumentException("mem must not be negative, got " + memBytes + " bytes");
    }
    if (gpus < 0) {
      throw new IllegalArgumentException("gpu must not be negative, got " + gpus);
    }
    for (Map.Entry<String, Long> resource : customResources.entrySet()) {
      if (resource.getValue() < 0) {
        throw new IllegalArgumentException(
            resource.getKey() + " must not be negative, got " + resource.getValue());
      }
    }
  }

  /** The coordinators to join, in the order given (at least one). */
  public List<CoordinatorAddress> coordinators() {
    return coordinators;
  }

  public String id() {
    return id;
  }

  public int slots() {
    return slots;
  }

  /** The prefetch in tasks; after {@link #conclude()}, {@code auto} is resolved. */
  public int prefetch() {
    return prefetch;
  }

  public long reconnectInitialMs() {
    return reconnectInitialMs;
  }

  public long reconnectMaxMs() {
    return reconnectMaxMs;
  }

  public String transport() {
    return transport;
  }

  public boolean stdio() {
    return stdio;
  }

  /** After {@link #conclude()}, the default filled in when none was set. */
  public java.nio.file.Path logDir() {
    return logDir;
  }

  public long taskLogBytes() {
    return taskLogBytes;
  }

  public long logRetentionMs() {
    return logRetentionMs;
  }

  public long drainGraceMs() {
    return drainGraceMs;
  }

  public boolean exitWhenStuck() {
    return exitWhenStuck;
  }

  public long parentPid() {
    return parentPid;
  }

  /** After {@link #conclude()}, with the default filled in when none was set. */
  public long cpuMillis() {
    return cpuMillis;
  }

  /** After {@link #conclude()}, with the default filled in when none was set. */
  public long memBytes() {
    return memBytes;
  }

  public int gpus() {
    return gpus;
  }

  /** The operator's own resources, by name. */
  public Map<String, Long> resources() {
    return Collections.unmodifiableMap(customResources);
  }

  public Map<String, String> labels() {
    return Collections.unmodifiableMap(labels);
  }
}
