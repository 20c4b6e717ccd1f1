package dev.weft.worker;

import dev.weft.kinds.JobKinds;
import dev.weft.local.HostIdentity;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Credit;
import dev.weft.v1.Goodbye;
import dev.weft.v1.Heartbeat;
import dev.weft.v1.Hello;
import dev.weft.v1.TaskResult;
import dev.weft.v1.TaskResults;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running worker: attaches to its coordinator, runs the tasks it is given on its slots, and
 * re-attaches with backoff whenever the coordinator goes away.
 */
public final class Worker implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Worker.class.getName());
  private static final String VERSION = "0.1.0";
  private static final int MAX_RESULTS_PER_MESSAGE = 1024;

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
  private Session session;
  private boolean stopping;

  private Worker(WorkerConfig config) {
    this.config = config;
    this.kinds = JobKinds.load(Worker.class.getClassLoader());
    this.slots = new TaskSlots(config.slots(), kinds, this::enqueueResult);
    this.channel =
        NettyChannelBuilder.forAddress(config.coordinatorHost(), config.coordinatorPort())
            .usePlaintext()
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS)
            .maxInboundMessageSize(256 * 1024 * 1024)
            .build();
    this.timers =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "weft-worker-timer");
              thread.setDaemon(true);
              return thread;
            });
  }

  /** Starts the worker; it attaches (and re-attaches) in the background. */
  public static Worker start(WorkerConfig config) {
    config.conclude();
    Worker worker = new Worker(config);
    worker.attachThread =
        Thread.ofPlatform().name("weft-worker-attach").daemon(false).start(worker::attachLoop);
    if (config.parentPid() > 0) {
      ProcessHandle.of(config.parentPid())
          .ifPresentOrElse(
              parent -> parent.onExit().thenRun(worker::close),
              () -> Thread.ofPlatform().start(worker::close));
    }
    return worker;
  }

  public String id() {
    return config.id();
  }

  /** Returns once the worker has stopped. */
  public void awaitTermination() throws InterruptedException {
    terminated.await();
  }

  /** Detaches (handing back unfinished tasks) and stops. Idempotent. */
  @Override
  public void close() {
    Session current;
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
    slots.shutdown();
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
      if (attachThread != null && attachThread != Thread.currentThread()) {
        attachThread.join(TimeUnit.SECONDS.toMillis(5));
      }
      slots.awaitTermination(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      timers.shutdownNow();
      terminated.countDown();
    }
  }

  private void attachLoop() {
    long backoffMs = config.reconnectInitialMs();
    while (true) {
      Session current = new Session();
      synchronized (state) {
        if (stopping) {
          return;
        }
        session = current;
      }
      boolean welcomed = current.run();
      synchronized (state) {
        session = null;
      }
      // Whatever was running belonged to the old session: the coordinator has requeued it.
      slots.cancelAll();
      backoffMs =
          welcomed ? config.reconnectInitialMs() : Math.min(backoffMs * 2, config.reconnectMaxMs());
      long waitMs = backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1);
      synchronized (state) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        while (!stopping) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            break;
          }
          try {
            TimeUnit.NANOSECONDS.timedWait(state, left);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
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
      TaskResult next;
      while ((next = pendingResults.poll()) != null) {
        batch.add(next);
        if (batch.size() == MAX_RESULTS_PER_MESSAGE) {
          sendResults(batch);
          batch = new ArrayList<>();
        }
      }
      if (!batch.isEmpty()) {
        sendResults(batch);
      }
    } while (flushing.decrementAndGet() != 0);
  }

  private void sendResults(List<TaskResult> batch) {
    Session current;
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

  /** One attach stream, from hello to its end. */
  private final class Session implements ClientResponseObserver<WorkerMessage, CoordinatorMessage> {
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile GrpcCoordinatorLink link;
    private volatile boolean welcomed;
    private volatile long lastHeardNanos = System.nanoTime();
    private ScheduledFuture<?> heartbeat;

    /** Runs the session to its end; returns whether the coordinator ever welcomed us. */
    boolean run() {
      WorkerServiceGrpc.newStub(channel).attach(this);
      link.send(WorkerMessage.newBuilder().setHello(hello()).build());
      try {
        ended.await();
      } catch (InterruptedException e) {
        link.abort("worker interrupted");
        Thread.currentThread().interrupt();
      } finally {
        if (heartbeat != null) {
          heartbeat.cancel(false);
        }
      }
      return welcomed;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WorkerMessage> requests) {
      link = new GrpcCoordinatorLink(requests);
    }

    void send(WorkerMessage message) {
      GrpcCoordinatorLink current = link;
      if (current != null) {
        current.send(message);
      }
    }

    /** Hands back unfinished work and ends the stream. */
    void leave(String reason) {
      List<Long> unfinished = slots.cancelAll();
      send(
          WorkerMessage.newBuilder()
              .setGoodbye(
                  Goodbye.newBuilder().setReason(reason).addAllReturnedAttemptIds(unfinished))
              .build());
      link.close();
    }

    @Override
    public void onNext(CoordinatorMessage message) {
      lastHeardNanos = System.nanoTime();
      switch (message.getBodyCase()) {
        case WELCOME -> {
          welcomed = true;
          long intervalMs = Math.max(100, message.getWelcome().getHeartbeatIntervalMs());
          long leaseMs = Math.max(3 * intervalMs, message.getWelcome().getLeaseMs());
          LOG.log(
              System.Logger.Level.INFO,
              "attached to coordinator {0} as {1}",
              message.getWelcome().getCoordinatorId(),
              message.getWelcome().getWorkerId());
          heartbeat =
              timers.scheduleAtFixedRate(
                  () -> beat(leaseMs), intervalMs, intervalMs, TimeUnit.MILLISECONDS);
          send(
              WorkerMessage.newBuilder()
                  .setCredit(Credit.newBuilder().setSlots(config.slots() + config.prefetch()))
                  .build());
        }
        case ASSIGNMENTS -> message.getAssignments().getTasksList().forEach(slots::submit);
        case CANCEL -> slots.cancel(message.getCancel().getAttemptIdsList());
        case DRAIN -> leave("drained: " + message.getDrain().getReason());
        case HEARTBEAT, BODY_NOT_SET -> {}
      }
    }

    private void beat(long leaseMs) {
      if (System.nanoTime() - lastHeardNanos > TimeUnit.MILLISECONDS.toNanos(leaseMs)) {
        LOG.log(
            System.Logger.Level.WARNING,
            "coordinator silent for more than {0} ms; re-attaching",
            leaseMs);
        link.abort("coordinator silent past its lease");
        return;
      }
      send(
          WorkerMessage.newBuilder()
              .setHeartbeat(
                  Heartbeat.newBuilder()
                      .setSentUnixMs(System.currentTimeMillis())
                      .setBusy(slots.busy()))
              .build());
    }

    @Override
    public void onError(Throwable t) {
      link.markClosed();
      Status status = Status.fromThrowable(t);
      LOG.log(
          System.Logger.Level.INFO,
          "attach to {0}:{1} ended: {2} {3}",
          config.coordinatorHost(),
          String.valueOf(config.coordinatorPort()),
          status.getCode(),
          status.getDescription() == null ? "" : status.getDescription());
      ended.countDown();
    }

    @Override
    public void onCompleted() {
      link.close();
      ended.countDown();
    }
  }

  private Hello hello() {
    HostIdentity host = HostIdentity.current();
    return Hello.newBuilder()
        .setWorkerId(config.id())
        .setPid(ProcessHandle.current().pid())
        .setSlots(config.slots())
        .addAllKinds(kinds.names())
        .addTransports("grpc")
        .setHost(
            dev.weft.v1.HostIdentity.newBuilder()
                .setHostname(host.hostname())
                .setMachineId(host.machineId())
                .setBootId(host.bootId())
                .setShmDevice(host.shmDevice())
                .setNetNamespace(host.netNamespace())
                .setUid(host.uid()))
        .setVersion(VERSION)
        .build();
  }
}
