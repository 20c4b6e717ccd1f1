package dev.weft.worker;

import dev.weft.local.HostIdentity;
import dev.weft.security.ClientSecurity;
import java.util.Objects;

/**
 * Everything a worker is started with. Fluent setters; {@link #conclude()} fills defaults and
 * checks the rules between fields.
 */
public final class WorkerConfig {
  /** {@link #prefetch(int)} for "as many as the slots", what {@code --prefetch auto} means. */
  public static final int AUTO_PREFETCH = -1;

  private static final int MAX_PREFETCH = 65_536;

  private String coordinatorHost = "127.0.0.1";
  private int coordinatorPort = 7070;
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
  private java.util.function.Supplier<ClientSecurity> security = ClientSecurity::new;

  /** The coordinator's address as {@code HOST:PORT} (IPv6 hosts in brackets). */
  public WorkerConfig join(String hostPort) {
    Objects.requireNonNull(hostPort, "hostPort");
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0 || colon == hostPort.length() - 1) {
      throw new IllegalArgumentException(
          "coordinator address must be HOST:PORT, e.g. 127.0.0.1:7070, got '" + hostPort + "'");
    }
    String host = hostPort.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "coordinator port must be a number 1..65535, got '" + hostPort.substring(colon + 1) + "'",
          e);
    }
    this.coordinatorHost = host;
    this.coordinatorPort = port;
    return this;
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

  /** TLS and the join token for the coordinator (plain text by default). */
  public WorkerConfig security(ClientSecurity value) {
    Objects.requireNonNull(value, "security");
    this.security = () -> value;
    return this;
  }

  /**
   * The same, asked again before each attach: for a worker that learns its token only once its
   * coordinator has run (a local one, through its user's registry). While it answers null the
   * worker does not attach, and asks again after its back-off.
   */
  public WorkerConfig security(java.util.function.Supplier<ClientSecurity> source) {
    this.security = Objects.requireNonNull(source, "security");
    return this;
  }

  /** The settings as they are now; null while there are none to attach with. */
  public ClientSecurity security() {
    return security.get();
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
    if (coordinatorPort < 1 || coordinatorPort > 65_535) {
      throw new IllegalArgumentException(
          "coordinator port must be 1..65535, got " + coordinatorPort);
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
    return this;
  }

  public String coordinatorHost() {
    return coordinatorHost;
  }

  public int coordinatorPort() {
    return coordinatorPort;
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

  public long drainGraceMs() {
    return drainGraceMs;
  }

  public boolean exitWhenStuck() {
    return exitWhenStuck;
  }

  public long parentPid() {
    return parentPid;
  }
}
