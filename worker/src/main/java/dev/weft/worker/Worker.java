package dev.weft.worker;

import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskLogs;
import dev.weft.kinds.TaskProcessGroups;
import dev.weft.local.HostIdentity;
import dev.weft.posix.ProcessStat;
import dev.weft.v1.Hello;
import dev.weft.v1.Resources;
import dev.weft.v1.TaskResults;
import dev.weft.wire.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A running worker: attaches to its coordinator, runs the tasks it is given on its slots, and
 * re-attaches with backoff whenever the coordinator goes away. A worker on stdin/stdout (spawned by
 * its coordinator) has a single session and stops when its pipes close.
 *
 * <p>The facade over the parts: {@link AttachLoop} or {@link StdioSession} runs the sessions,
 * {@link CoordinatorSession} speaks to the coordinator, {@link TaskSlots} runs the tasks and {@link
 * ResultBatcher} sends their results.
 */
public final class Worker implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Worker.class.getName());
  private static final String VERSION = "0.1.0";
  private static final long SHM_HEARTBEAT_MS = 500;
  private static final long ORPHAN_SWEEP_SECONDS = 30;
  private static final long SHM_STALE_MS = 5_000;
  // Tasks of a session that ended were requeued elsewhere: stop them soon.
  private static final long LEAVE_GRACE_MS = 2_000;
  private static final long STOP_WAIT_MS = 5_000;
  private static final long LOG_SWEEP_MAX_MS = 3_600_000;

  private final WorkerConfig config;
  private final JobKinds kinds;
  private final TaskSlots slots;
  private final ResultBatcher results;
  private final AttachLoop attachLoop;
  private final ScheduledExecutorService timers;
  private final TaskLogs logs; // null when it keeps none
  private final WorkerMetrics metrics; // null without an HTTP port: nothing would read it
  private final CountDownLatch terminated = new CountDownLatch(1);
  private final Object state = new Object();
  private Thread runner;
  private CoordinatorSession session;
  private boolean stopping;
  private boolean draining;
  private volatile boolean exitedStuck;
  private volatile String refusal;
  private WorkerHttp http; // guarded by state; null without an HTTP port

  private Worker(WorkerConfig config, TaskLogs logs) {
    this.config = config;
    this.logs = logs;
    this.kinds = config.kinds();
    this.metrics = config.httpPort() < 0 ? null : new WorkerMetrics(kinds.names());
    ScheduledThreadPoolExecutor timer =
        new ScheduledThreadPoolExecutor(
            1,
            runnable -> {
              Thread thread = new Thread(runnable, "weft-worker-timer");
              thread.setDaemon(true);
              return thread;
            });
    // Every task with a timeout schedules its end, and nearly all finish first: drop those at once
    // rather than keep them queued until they would have fired.
    timer.setRemoveOnCancelPolicy(true);
    this.timers = timer;
    this.results = new ResultBatcher(this::sendResults);
    this.slots =
        new TaskSlots(
            config.slots(),
            kinds,
            results::add,
            new TaskSlots.Listener() {
              @Override
              public void slotFreed() {
                CoordinatorSession current = current();
                if (current != null) {
                  current.slotFreed();
                }
              }

              @Override
              public void stuck(int stuck) {
                CoordinatorSession current = current();
                if (current != null) {
                  current.stuckChanged();
                }
                onStuck(stuck);
              }
            },
            timers,
            logs,
            metrics == null ? TaskSlots.Tally.NONE : metrics);
    if (metrics != null) {
      metrics.watch(slots);
    }
    this.attachLoop = config.stdio() ? null : new AttachLoop(config, new Host());
  }

  /** Starts the worker; it attaches (and re-attaches) in the background. */
  public static Worker start(WorkerConfig config) {
    config.conclude();
    sweepOrphans();
    TaskLogs logs = openLogs(config);
    Worker worker = new Worker(config, logs);
    if (worker.metrics != null) {
      worker.serveHttp();
    }
    if (logs != null) {
      // Off the timer thread, which beats the heartbeat: a sweep of many logs takes a while.
      long everyMs = Math.clamp(config.logRetentionMs() / 4, 1_000, LOG_SWEEP_MAX_MS);
      worker.timers.scheduleWithFixedDelay(
          () -> Thread.ofVirtual().name("weft-log-sweep").start(worker::sweepLogs),
          0,
          everyMs,
          TimeUnit.MILLISECONDS);
    }
    // Workers beside this one may die later: their leftovers should not wait for a new worker.
    // Off the timer thread, which beats the heartbeat: a sweep may wait seconds for a kill.
    worker.timers.scheduleWithFixedDelay(
        () -> Thread.ofVirtual().name("weft-orphan-sweep").start(Worker::sweepOrphans),
        ORPHAN_SWEEP_SECONDS,
        ORPHAN_SWEEP_SECONDS,
        TimeUnit.SECONDS);
    Runnable sessions =
        worker.attachLoop != null
            ? worker.attachLoop
            : new StdioSession(worker.new Host(), worker.results);
    synchronized (worker.state) {
      worker.runner = Thread.ofPlatform().name("weft-worker-attach").start(sessions);
    }
    if (config.parentPid() > 0) {
      ProcessHandle.of(config.parentPid())
          .ifPresentOrElse(
              parent -> parent.onExit().thenRun(worker::close),
              () -> Thread.ofPlatform().start(worker::close));
    }
    return worker;
  }

  /**
   * Serves {@code /metrics} and {@code /healthz} before the worker attaches, so a port that cannot
   * be served stops it before it takes any task.
   *
   * @throws UncheckedIOException naming the address and why, after the worker is closed
   */
  private void serveHttp() {
    InetSocketAddress address = new InetSocketAddress(config.httpAddress(), config.httpPort());
    WorkerHttp started;
    try {
      started = WorkerHttp.start(address, metrics, this::health);
    } catch (IOException e) {
      close();
      throw new UncheckedIOException(
          "cannot serve HTTP on "
              + address.getHostString()
              + ":"
              + config.httpPort()
              + ": "
              + e.getMessage()
              + "; choose another with --http-listen HOST:PORT, or off",
          e);
    }
    synchronized (state) {
      http = started;
    }
  }

  /** Serving until it drains or stops; the transport only while attached (not while trying). */
  private WorkerHttp.Health health() {
    synchronized (state) {
      boolean attached = session != null && session.attached();
      return new WorkerHttp.Health(
          !stopping && !draining, attached ? session.transport().wireName() : "");
    }
  }

  /** The bound HTTP port, or -1 when there is none. */
  public int httpPort() {
    synchronized (state) {
      return http == null ? -1 : http.port();
    }
  }

  /** The worker's task logs, or null when it keeps none or cannot (which it says). */
  private static TaskLogs openLogs(WorkerConfig config) {
    if (config.taskLogBytes() == 0) {
      return null;
    }
    try {
      TaskLogs logs = TaskLogs.open(config.logDir(), config.taskLogBytes());
      LOG.log(System.Logger.Level.INFO, "task logs in {0}", logs.root());
      return logs;
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "keeping no task logs: {0} cannot hold them: {1}",
          config.logDir(),
          String.valueOf(e.getMessage()));
      return null;
    }
  }

  private void sweepLogs() {
    try {
      int removed =
          logs.sweep(java.time.Duration.ofMillis(config.logRetentionMs()), java.time.Instant.now());
      if (removed > 0) {
        LOG.log(
            System.Logger.Level.INFO,
            "removed the logs of {0} task attempts older than the retention",
            removed);
      }
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "sweeping old task logs in {0} failed: {1}",
          logs.root(),
          String.valueOf(e.getMessage()));
    }
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
      return session == null ? "" : session.transport().wireName();
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
    CoordinatorSession current = current();
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

  private CoordinatorSession current() {
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
    CoordinatorSession current;
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
    Thread sessions;
    synchronized (state) {
      sessions = runner;
    }
    try {
      if (attachLoop != null) {
        attachLoop.shutdown(STOP_WAIT_MS);
      }
      if (sessions != null && sessions != Thread.currentThread()) {
        sessions.join(STOP_WAIT_MS);
      }
      slots.awaitTermination(STOP_WAIT_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      timers.shutdownNow();
      WorkerHttp serving;
      synchronized (state) {
        serving = http;
      }
      if (serving != null) {
        serving.close();
      }
      terminated.countDown();
    }
  }

  private ShmUpgradeClient shmUpgrade() {
    return config.transport().equals("grpc")
        ? null
        : new ShmUpgradeClient(SHM_HEARTBEAT_MS, SHM_STALE_MS);
  }

  /** Free slots plus prefetch: slots held by stuck tasks are not offered. */
  private int creditToAnnounce() {
    return Math.max(0, config.slots() - slots.stuck()) + config.prefetch();
  }

  private void sendResults(TaskResults batch) {
    CoordinatorSession current = current();
    if (current != null) {
      current.sendResults(batch);
    }
  }

  /** The worker as its session runners see it. */
  private final class Host implements SessionHost {
    @Override
    public CoordinatorSession open(CoordinatorLink control) {
      CoordinatorSession next =
          new CoordinatorSession(
              control,
              slots,
              results,
              Worker.this::creditToAnnounce,
              timers,
              shmUpgrade(),
              logs,
              metrics == null ? (transport, nanos) -> {} : metrics::roundTrip);
      synchronized (state) {
        if (stopping || draining) {
          return null;
        }
        session = next;
        return next;
      }
    }

    @Override
    public void closed(CoordinatorSession finished) {
      synchronized (state) {
        if (session == finished) {
          session = null;
        }
      }
      // Whatever was running belonged to the old session: the coordinator has requeued it.
      slots.cancelAll(LEAVE_GRACE_MS);
    }

    @Override
    public Hello hello() {
      return Worker.hello(config, kinds, logs);
    }

    @Override
    public boolean pause(long waitMs) {
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

    @Override
    public void refusedForGood(String why) {
      Worker.this.refusedForGood(why);
    }

    @Override
    public void stop() {
      Thread.ofPlatform().name("weft-worker-stop").start(Worker.this::close);
    }
  }

  /** What a worker of {@code config} running {@code kinds} says of itself when it attaches. */
  static Hello hello(WorkerConfig config, JobKinds kinds, TaskLogs logs) {
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
            .setVersion(VERSION)
            .setResources(
                Resources.newBuilder()
                    .setCpuMillis(config.cpuMillis())
                    .setMemBytes(config.memBytes())
                    .setGpus(config.gpus())
                    .putAllCustom(config.resources()))
            .putAllLabels(config.labels());
    if (logs != null) {
      hello.setTaskLogDir(logs.root().toString());
    }
    if (!config.transport().equals("shm")) {
      hello.addTransports((config.stdio() ? Transport.PIPE : Transport.GRPC).wireName());
    }
    if (!config.transport().equals("grpc") && Files.isDirectory(Path.of("/dev/shm"))) {
      hello.addTransports(Transport.SHM.wireName());
    }
    return hello.build();
  }
}
