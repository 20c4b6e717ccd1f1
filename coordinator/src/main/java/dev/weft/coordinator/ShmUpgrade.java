package dev.weft.coordinator;

import dev.weft.local.HostIdentity;
import dev.weft.local.ShmConfig;
import dev.weft.local.ShmEndpoint;
import dev.weft.local.ShmSegment;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Hello;
import dev.weft.v1.ShmAccept;
import dev.weft.v1.ShmDecline;
import dev.weft.v1.ShmOffer;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import io.grpc.Status;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Offers a same-host worker a shared-memory segment and moves its task traffic there once the
 * worker proves it maps the same memory (it reads back a random nonce written into the segment).
 * Any failure, then or later, leaves the worker on its original link with no task lost or counted
 * twice.
 */
final class ShmUpgrade implements ShmUpgradeOffer {
  private static final System.Logger LOG = System.getLogger(ShmUpgrade.class.getName());
  private static final int NONCE_BYTES = 32;
  // 16 MiB each way: a 1 MiB batch fits in one ring record, so it is neither split nor reassembled.
  private static final int RING_BYTES = 16 << 20;
  private static final long ACCEPT_TIMEOUT_MS = 10_000;
  private static final long HEARTBEAT_MS = 500;
  private static final long STALE_MS = 5_000;

  /** Which links to upgrade: never, when possible, or always (refusing workers that cannot). */
  enum Mode {
    GRPC,
    AUTO,
    SHM
  }

  private record Pending(ShmSegment segment, byte[] nonce) {}

  private final Conductor conductor;
  private final Scheduler scheduler;
  private final String coordinatorId;
  private final Mode mode;
  private final ScheduledExecutorService timers;
  private final HostIdentity self = HostIdentity.current();
  private final long pidNamespace = HostIdentity.pidNamespace();
  private final SecureRandom random = new SecureRandom();
  private final Map<AttachedWorker, Pending> pending = new ConcurrentHashMap<>();

  /**
   * Offers are made on the worker link's reader thread; answers ({@link #accepted}, {@link
   * #declined}, {@link #closed}) come on the conductor, where the switch of links happens.
   */
  ShmUpgrade(
      Conductor conductor,
      Scheduler scheduler,
      String coordinatorId,
      Mode mode,
      ScheduledExecutorService timers) {
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.coordinatorId = coordinatorId;
    this.mode = mode;
    this.timers = timers;
  }

  @Override
  public String impossibleRequirement(Hello hello) {
    boolean workerCan = hello.getTransportsList().contains(Transport.SHM.wireName());
    boolean workerMust = workerCan && hello.getTransportsCount() == 1;
    String obstacle = obstacle(hello, workerCan);
    if (obstacle != null && (workerMust || mode == Mode.SHM)) {
      return "shared memory was required "
          + (workerMust
              ? "by the worker (its --transport shm)"
              : "by the coordinator (its --transport shm)")
          + " but is not possible: "
          + obstacle;
    }
    return null;
  }

  @Override
  public void offer(AttachedWorker session, Hello hello) {
    WorkerLink link = session.link();
    timers.execute(() -> makeOffer(session, link, hello));
  }

  private void makeOffer(AttachedWorker session, WorkerLink link, Hello hello) {
    boolean workerCan = hello.getTransportsList().contains(Transport.SHM.wireName());
    boolean workerMust = workerCan && hello.getTransportsCount() == 1;
    if (obstacle(hello, workerCan) != null) {
      return; // shared memory is not required (else impossibleRequirement refused the worker)
    }
    ShmSegment segment;
    try {
      segment =
          ShmSegment.create(
              new ShmConfig()
                  .coordinatorId(coordinatorId)
                  .linkId(HexFormat.of().formatHex(random.generateSeed(6)))
                  .maxFrameType(LinkFrames.MAX_TYPE)
                  .ringCapacity(RING_BYTES)
                  .conclude());
    } catch (IOException | RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot create a segment for worker " + session.id(), e);
      if (workerMust || mode == Mode.SHM) {
        link.refuse(
            // Perhaps only for now (/dev/shm full): the worker tries again.
            Status.UNAVAILABLE.withDescription(
                "shared memory was required but no segment could be made: " + e.getMessage()));
      }
      return;
    }
    byte[] nonce = new byte[NONCE_BYTES];
    random.nextBytes(nonce);
    segment.writeNonce(nonce);
    pending.put(session, new Pending(segment, nonce));
    timers.schedule(
        () -> abandon(session, "no answer within " + ACCEPT_TIMEOUT_MS + " ms"),
        ACCEPT_TIMEOUT_MS,
        TimeUnit.MILLISECONDS);
    link.send(
        CoordinatorMessage.newBuilder()
            .setShmOffer(
                ShmOffer.newBuilder()
                    .setPath(segment.path().toString())
                    .setSizeBytes(segment.path().toFile().length()))
            .build());
  }

  /** Why this worker cannot share memory with us, or null when it can. */
  private String obstacle(Hello hello, boolean workerCan) {
    if (mode == Mode.GRPC) {
      return "the coordinator runs with the shared-memory upgrade off";
    }
    if (!workerCan) {
      return "the worker does not offer shm";
    }
    dev.weft.v1.HostIdentity host = hello.getHost();
    HostIdentity other =
        new HostIdentity(
            host.getHostname(),
            host.getMachineId(),
            host.getBootId(),
            host.getShmDevice(),
            host.getNetNamespace(),
            host.getUid());
    if (!self.mayShareMemoryWith(other)) {
      return "the worker is on another host, another /dev/shm or another user";
    }
    // Each side watches the other's pid for liveness: across pid namespaces (containers that
    // share /dev/shm but not their processes) that pid means nothing here.
    if (pidNamespace != host.getPidNamespace()) {
      return "the worker is in another pid namespace (share the process namespace to use shm)";
    }
    return null;
  }

  @Override
  public void accepted(AttachedWorker session, ShmAccept accept, WorkerAdapter adapter) {
    Pending offer = pending.remove(session);
    if (offer == null) {
      return;
    }
    if (!offer.segment().path().toString().equals(accept.getPath())
        || !MessageDigest.isEqual(offer.nonce(), accept.getNonce().toByteArray())) {
      LOG.log(
          System.Logger.Level.WARNING,
          "worker {0} read a wrong nonce from {1}: it does not share our memory",
          session.id(),
          accept.getPath());
      offer.segment().close();
      WorkerLink control = session.link();
      // The worker already moved its sends to the segment: bring it back.
      scheduler.fallBack(session, control, control, "the nonce read back did not match");
      return;
    }
    WorkerLink control = session.link();
    ShmWorkerLink[] self = new ShmWorkerLink[1];
    ShmWorkerLink link =
        new ShmWorkerLink(
            listener ->
                new ShmEndpoint(
                    offer.segment(), listener, HEARTBEAT_MS, STALE_MS, "weft-shm-" + session.id()),
            control,
            adapter::onMessage,
            reason -> conductor.post(() -> fallBack(session, self[0], reason)));
    self[0] = link;
    if (!scheduler.switchLink(session, control, link)) {
      offer.segment().close();
      return;
    }
    link.start();
    LOG.log(
        System.Logger.Level.INFO,
        "worker {0} is on shared memory {1}",
        session.id(),
        accept.getPath());
  }

  private void fallBack(AttachedWorker session, ShmWorkerLink link, String reason) {
    LOG.log(
        reason.equals(ShmEndpoint.PEER_CLOSED)
            ? System.Logger.Level.INFO
            : System.Logger.Level.WARNING,
        "shared-memory link to worker {0} ended ({1}); falling back to {2}",
        session.id(),
        reason,
        link.control().transport().wireName());
    link.closeShm();
    scheduler.fallBack(session, link, link.control(), reason);
  }

  @Override
  public void declined(AttachedWorker session, ShmDecline decline) {
    Pending offer = pending.remove(session);
    if (offer != null) {
      LOG.log(
          System.Logger.Level.INFO,
          "worker {0} declined shared memory: {1}",
          session.id(),
          decline.getReason());
      offer.segment().close();
      if (mode == Mode.SHM) {
        session
            .link()
            .refuse(
                Status.FAILED_PRECONDITION.withDescription(
                    "shared memory is required by this coordinator; the worker declined: "
                        + decline.getReason()));
      }
    }
  }

  @Override
  public void closed(AttachedWorker session) {
    abandon(session, "the worker's link closed");
  }

  private void abandon(AttachedWorker session, String reason) {
    Pending offer = pending.remove(session);
    if (offer != null) {
      LOG.log(
          System.Logger.Level.WARNING,
          "shm offer to worker {0} dropped: {1}",
          session.id(),
          reason);
      offer.segment().close();
    }
  }

  /** Removes every segment still on offer (the coordinator is stopping). */
  void closeAll() {
    for (AttachedWorker session : pending.keySet()) {
      abandon(session, "the coordinator is stopping");
    }
  }
}
