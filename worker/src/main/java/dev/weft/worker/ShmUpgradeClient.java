package dev.weft.worker;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.weft.local.ShmConfig;
import dev.weft.local.ShmEndpoint;
import dev.weft.local.ShmSegment;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.ShmAccept;
import dev.weft.v1.ShmDecline;
import dev.weft.v1.ShmOffer;
import dev.weft.v1.WorkerMessage;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The worker's half of the same-host shared-memory upgrade: maps the segment the coordinator
 * offers, proves it by reading the nonce back, and moves task traffic onto the segment's rings.
 */
final class ShmUpgradeClient {
  private static final System.Logger LOG = System.getLogger(ShmUpgradeClient.class.getName());

  private final long heartbeatIntervalMs;
  private final long staleAfterMs;

  ShmUpgradeClient(long heartbeatIntervalMs, long staleAfterMs) {
    this.heartbeatIntervalMs = heartbeatIntervalMs;
    this.staleAfterMs = staleAfterMs;
  }

  static WorkerMessage decline(ShmOffer offer, String reason) {
    return WorkerMessage.newBuilder()
        .setShmDecline(ShmDecline.newBuilder().setPath(offer.getPath()).setReason(reason))
        .build();
  }

  /**
   * Attaches the offered segment and answers over {@code control}. Returns the fast link, or null
   * after declining (the reason is sent to the coordinator).
   */
  CoordinatorLink accept(ShmOffer offer, CoordinatorSession session, CoordinatorLink control) {
    ShmConfig config;
    try {
      config = configFor(Path.of(offer.getPath()), heartbeatIntervalMs);
    } catch (IllegalArgumentException e) {
      control.send(decline(offer, e.getMessage()));
      return null;
    }
    ShmSegment segment;
    try {
      segment = ShmSegment.attach(config);
    } catch (IOException | RuntimeException e) {
      control.send(decline(offer, "cannot attach " + offer.getPath() + ": " + e.getMessage()));
      return null;
    }
    ShmLink link = new ShmLink(segment, session, control);
    control.send(
        WorkerMessage.newBuilder()
            .setShmAccept(
                ShmAccept.newBuilder()
                    .setPath(offer.getPath())
                    .setNonce(ByteString.copyFrom(segment.readNonce())))
            .build());
    link.endpoint.start();
    LOG.log(System.Logger.Level.INFO, "shared-memory link over {0}", offer.getPath());
    return link;
  }

  /**
   * Only weft's own segment names in a shm directory are attached, never an arbitrary path. An idle
   * reader sleeps as long as its heartbeat allows: it wakes up only to beat.
   */
  static ShmConfig configFor(Path path, long heartbeatIntervalMs) {
    String name = path.getFileName() == null ? "" : path.getFileName().toString();
    Path directory = path.getParent();
    if (!path.isAbsolute() || directory == null || !name.startsWith(ShmConfig.NAME_PREFIX)) {
      throw new IllegalArgumentException(
          "offered segment "
              + path
              + " is not an absolute path named "
              + ShmConfig.NAME_PREFIX
              + "*");
    }
    String rest = name.substring(ShmConfig.NAME_PREFIX.length());
    int dash = rest.indexOf('-');
    if (dash <= 0 || dash == rest.length() - 1) {
      throw new IllegalArgumentException(
          "offered segment name " + name + " is not weft-<coordinator>-<link>");
    }
    return new ShmConfig()
        .directory(directory)
        .coordinatorId(rest.substring(0, dash))
        .linkId(rest.substring(dash + 1))
        .maxFrameType(LinkFrames.MAX_TYPE)
        .parkTimeoutNs(TimeUnit.MILLISECONDS.toNanos(heartbeatIntervalMs))
        .conclude();
  }

  /** Task traffic in both directions over the segment; control stays on the other link. */
  private final class ShmLink implements CoordinatorLink, ShmEndpoint.Listener {
    private final ShmEndpoint endpoint;
    private final CoordinatorSession session;
    private final CoordinatorLink control;

    ShmLink(ShmSegment segment, CoordinatorSession session, CoordinatorLink control) {
      this.session = session;
      this.control = control;
      this.endpoint =
          new ShmEndpoint(
              segment, this, heartbeatIntervalMs, staleAfterMs, "weft-worker-shm-reader");
    }

    @Override
    public void send(WorkerMessage message) {
      int length = message.getSerializedSize();
      if (length > endpoint.maxFrameLength()
          || !endpoint.send(
              LinkFrames.WORKER_MESSAGE,
              length,
              destination -> LinkFrames.writeTo(message, destination))) {
        control.send(message);
      }
    }

    @Override
    public Transport transport() {
      return Transport.SHM;
    }

    @Override
    public void close() {
      endpoint.close();
    }

    @Override
    public void onFrame(int type, ByteBuffer payload) {
      if (type != LinkFrames.COORDINATOR_MESSAGE) {
        session.shmFailed(this, "unexpected frame type " + type + " from the coordinator");
        return;
      }
      CoordinatorMessage message;
      try {
        message = LinkFrames.parse(CoordinatorMessage.parser(), payload);
      } catch (InvalidProtocolBufferException e) {
        session.shmFailed(this, "unreadable frame: " + e.getMessage());
        return;
      }
      session.onMessage(message);
    }

    @Override
    public void onFailure(String reason) {
      session.shmFailed(this, reason);
    }
  }
}
