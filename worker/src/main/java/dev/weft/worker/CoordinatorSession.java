package dev.weft.worker;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Credit;
import dev.weft.v1.Draining;
import dev.weft.v1.Goodbye;
import dev.weft.v1.Heartbeat;
import dev.weft.v1.Hello;
import dev.weft.v1.TaskResults;
import dev.weft.v1.WorkerMessage;
import dev.weft.wire.Transport;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.ObjLongConsumer;

/**
 * The worker's view of its coordinator: one attachment, from hello to its end, whatever link
 * carries it. Decodes the coordinator's messages into calls on the task slots; sends results on the
 * fastest link it has.
 */
final class CoordinatorSession {
  private static final System.Logger LOG = System.getLogger(CoordinatorSession.class.getName());

  // Tasks handed back when the worker leaves are run again elsewhere: no use waiting long for them.
  private static final long LEAVE_GRACE_MS = 2_000;

  private static final long WELCOME_DEADLINE_MS = 10_000;

  private final CoordinatorLink control;
  private final TaskSlots slots;
  private final ResultBatcher results;
  private final IntSupplier credit;
  private final ScheduledExecutorService timers;
  private final ShmUpgradeClient shmUpgrade;
  private final LogServer logServer;
  private final ObjLongConsumer<Transport> roundTrips;
  private final CountDownLatch ended = new CountDownLatch(1);
  private volatile CoordinatorLink data;
  private volatile boolean welcomed;
  private volatile boolean refused;
  private volatile long lastHeardNanos = System.nanoTime();
  private volatile String endReason = "";
  private volatile boolean draining;
  private ScheduledFuture<?> heartbeat;

  /**
   * @param results told when a reader handles a message, so results of tasks run meanwhile leave in
   *     one batch after it
   * @param credit the slots to announce (free slots plus prefetch) when the session starts
   * @param shmUpgrade answers shared-memory offers; null when this worker must stay on {@code
   *     control}
   * @param logs the task logs log requests are answered from; null when the worker keeps none
   * @param roundTrips told each round trip of the link timed on heartbeats
   */
  CoordinatorSession(
      CoordinatorLink control,
      TaskSlots slots,
      ResultBatcher results,
      IntSupplier credit,
      ScheduledExecutorService timers,
      ShmUpgradeClient shmUpgrade,
      dev.weft.kinds.TaskLogs logs,
      ObjLongConsumer<Transport> roundTrips) {
    this.control = control;
    this.roundTrips = roundTrips;
    this.logServer = new LogServer(logs, control::send);
    this.data = control;
    this.slots = slots;
    this.results = results;
    this.credit = credit;
    this.timers = timers;
    this.shmUpgrade = shmUpgrade;
  }

  void start(Hello hello) {
    control.send(WorkerMessage.newBuilder().setHello(hello).build());
    // A coordinator that was stopped (SIGSTOP) still accepts connections and says nothing: the
    // worker moves on to the next address rather than wait for the transport's keepalive.
    timers.schedule(this::welcomeOverdue, WELCOME_DEADLINE_MS, TimeUnit.MILLISECONDS);
  }

  private void welcomeOverdue() {
    if (!welcomed && ended.getCount() > 0) {
      String why = "no welcome from the coordinator within " + WELCOME_DEADLINE_MS + " ms";
      LOG.log(System.Logger.Level.WARNING, "{0} at {1}; detaching", why, control.peer());
      control.abort(why);
      ended(why);
    }
  }

  /**
   * Sends a batch of results on the shared-memory link when there is one; the control link
   * otherwise.
   */
  void sendResults(TaskResults batch) {
    data.send(WorkerMessage.newBuilder().setResults(batch).build());
  }

  /** Handles one message on the thread of the link that read it. */
  void onMessage(CoordinatorMessage message) {
    results.readerBusy();
    try {
      handle(message);
    } finally {
      results.readerDone();
    }
  }

  private void handle(CoordinatorMessage message) {
    lastHeardNanos = System.nanoTime();
    switch (message.getBodyCase()) {
      case WELCOME -> {
        welcomed = true;
        long intervalMs = Math.max(50, message.getWelcome().getHeartbeatIntervalMs());
        long leaseMs = Math.max(3 * intervalMs, message.getWelcome().getLeaseMs());
        LOG.log(
            System.Logger.Level.INFO,
            "attached to coordinator {0} at {1} as {2} over {3}",
            message.getWelcome().getCoordinatorId(),
            control.peer(),
            message.getWelcome().getWorkerId(),
            control.transport());
        synchronized (this) {
          if (ended.getCount() > 0) {
            heartbeat =
                timers.scheduleAtFixedRate(
                    () -> beat(leaseMs), intervalMs, intervalMs, TimeUnit.MILLISECONDS);
          }
        }
        announceCredit();
      }
      case ASSIGNMENTS -> {
        if (draining) {
          // Crossed our Draining on the wire: straight back, unstarted.
          control.send(
              drainingMessage(
                  "draining",
                  message.getAssignments().getTasksList().stream()
                      .map(dev.weft.v1.TaskAssignment::getAttemptId)
                      .toList()));
        } else if (ended.getCount() > 0) {
          message.getAssignments().getTasksList().forEach(slots::submit);
        }
      }
      case CANCEL ->
          slots.cancel(message.getCancel().getAttemptIdsList(), message.getCancel().getGraceMs());
      case DRAIN -> leave("drained: " + message.getDrain().getReason());
      case SHM_OFFER -> {
        if (shmUpgrade == null) {
          control.send(
              ShmUpgradeClient.decline(message.getShmOffer(), "this worker runs --transport grpc"));
        } else {
          CoordinatorLink fast = shmUpgrade.accept(message.getShmOffer(), this, control);
          if (fast != null) {
            data = fast;
          }
        }
      }
      case SHM_CLOSED -> {
        LOG.log(
            System.Logger.Level.WARNING,
            "shared-memory link closed by the coordinator: {0}",
            message.getShmClosed().getReason());
        CoordinatorLink fast = data;
        data = control;
        if (fast != control) {
          fast.close();
        }
        // The coordinator withdrew every outstanding attempt: stop them and start afresh.
        slots.cancelAll(LEAVE_GRACE_MS);
        announceCredit();
      }
      case LOG_REQUEST -> logServer.request(message.getLogRequest());
      case LOG_CANCEL -> logServer.cancel(message.getLogCancel().getRequestId());
      case LOG_ACK ->
          logServer.ack(message.getLogAck().getRequestId(), message.getLogAck().getChunks());
      case HEARTBEAT -> answerBeat(message.getHeartbeat());
      case BODY_NOT_SET -> {}
    }
  }

  /**
   * Times the link (see {@code Heartbeat} in worker_service.proto): the beat echoes our clock from
   * our last answer, and we answer it at once on the link it came in on, so the coordinator can
   * time that link too. Once per beat interval, never per task.
   */
  private void answerBeat(Heartbeat beat) {
    long now = System.nanoTime();
    CoordinatorLink link = data;
    if (beat.getEchoNanos() != 0) {
      roundTrips.accept(link.transport(), now - beat.getEchoNanos() - beat.getHeldNanos());
    }
    if (beat.getSentNanos() != 0 && welcomed && ended.getCount() > 0) {
      link.send(
          WorkerMessage.newBuilder()
              .setHeartbeat(
                  Heartbeat.newBuilder()
                      .setSentUnixMs(System.currentTimeMillis())
                      .setBusy(slots.busy())
                      .setStuck(slots.stuck())
                      .setEchoNanos(beat.getSentNanos())
                      // Zero means "not set" on the wire; a clock that reads zero is off by one.
                      .setSentNanos(now == 0 ? 1 : now))
              .build());
    }
  }

  /** Welcomed by the coordinator and not ended: attached, not merely trying to be. */
  boolean attached() {
    return welcomed && ended.getCount() > 0;
  }

  private void announceCredit() {
    int slotsFree = credit.getAsInt();
    if (slotsFree > 0 && !draining) {
      control.send(
          WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setSlots(slotsFree)).build());
    }
  }

  /** A stuck task returned at last: its slot is free for new work. */
  void slotFreed() {
    if (welcomed && !draining && ended.getCount() > 0) {
      control.send(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setSlots(1)).build());
    }
    stuckChanged();
  }

  /**
   * Starts draining: the coordinator assigns nothing more and runs {@code handedBack} (accepted,
   * not started) elsewhere; running tasks go on and report as usual.
   */
  void drain(String reason, List<Long> handedBack) {
    draining = true;
    control.send(drainingMessage(reason, handedBack));
  }

  private static WorkerMessage drainingMessage(String reason, List<Long> handedBack) {
    return WorkerMessage.newBuilder()
        .setDraining(Draining.newBuilder().setReason(reason).addAllReturnedAttemptIds(handedBack))
        .build();
  }

  /** The shared-memory link failed on our side: tell the coordinator and carry on over control. */
  void shmFailed(CoordinatorLink fast, String reason) {
    if (data == fast) {
      data = control;
      LOG.log(
          System.Logger.Level.WARNING,
          "shared-memory link failed: {0}; back on {1}",
          reason,
          control.transport());
    }
    fast.close();
  }

  private void beat(long leaseMs) {
    if (System.nanoTime() - lastHeardNanos > TimeUnit.MILLISECONDS.toNanos(leaseMs)) {
      LOG.log(
          System.Logger.Level.WARNING,
          "coordinator silent for more than {0} ms; detaching",
          leaseMs);
      control.abort("coordinator silent past its lease");
      ended("coordinator silent past its lease");
      return;
    }
    sendHeartbeat();
  }

  /** Beats now, out of turn: the coordinator's view of our stuck slots changed. */
  void stuckChanged() {
    if (welcomed && ended.getCount() > 0) {
      sendHeartbeat();
    }
  }

  private void sendHeartbeat() {
    control.send(
        WorkerMessage.newBuilder()
            .setHeartbeat(
                Heartbeat.newBuilder()
                    .setSentUnixMs(System.currentTimeMillis())
                    .setBusy(slots.busy())
                    .setStuck(slots.stuck()))
            .build());
  }

  /**
   * Says goodbye, handing back unfinished work, then ends the link. The goodbye goes first: the
   * cancelled tasks' results come after it and no longer count, so the coordinator never mistakes
   * the slots they free for room for new tasks.
   */
  void leave(String reason) {
    List<Long> unfinished = slots.unfinished();
    LOG.log(
        System.Logger.Level.INFO,
        "leaving the coordinator ({0}); handing back {1} unfinished tasks",
        reason,
        unfinished.size());
    control.send(
        WorkerMessage.newBuilder()
            .setGoodbye(Goodbye.newBuilder().setReason(reason).addAllReturnedAttemptIds(unfinished))
            .build());
    ended(reason);
    control.close();
    slots.cancel(unfinished, LEAVE_GRACE_MS);
  }

  /** The link ended (either side); idempotent. */
  void ended(String reason) {
    synchronized (this) {
      if (ended.getCount() == 0) {
        return;
      }
      endReason = reason;
      if (heartbeat != null) {
        heartbeat.cancel(false);
      }
    }
    logServer.cancelAll();
    CoordinatorLink fast = data;
    data = control;
    if (fast != control) {
      fast.close();
    }
    ended.countDown();
  }

  /**
   * Waits for the end; returns whether the session went well enough to retry at once: the
   * coordinator welcomed it and did not refuse it.
   */
  boolean await() throws InterruptedException {
    ended.await();
    return welcomed && !refused;
  }

  /** The coordinator refused this worker (a bad hello, a transport it cannot give): back off. */
  void refused(String reason) {
    refused = true;
    LOG.log(System.Logger.Level.WARNING, "the coordinator refused this worker: {0}", reason);
  }

  String endReason() {
    return endReason;
  }

  Transport transport() {
    return data.transport();
  }
}
