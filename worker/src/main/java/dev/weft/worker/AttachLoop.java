package dev.weft.worker;

import dev.weft.security.CertificateRejectedException;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import dev.weft.wire.FollowOrder;
import dev.weft.wire.Leaders;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A worker that joins its coordinator over gRPC: attaches, runs the session to its end, backs off
 * (with jitter, doubling after a failed attempt), and attaches again, until the worker stops.
 *
 * <p>Given several addresses (coordinators sharing one journal, one of them the leader), it follows
 * the leader: after an attach that failed (refused connection, a standby's answer) it tries the
 * leader the standby named, else the next address, at once; it backs off only once every address it
 * knows has failed in a row (for no longer than a second while a standby answers: it may be about
 * to lead). After a session that worked it tries the same address first.
 */
final class AttachLoop implements Runnable {
  private static final System.Logger LOG = System.getLogger(AttachLoop.class.getName());
  // A standby is about to lead once it takes over: ask again at least this often meanwhile.
  private static final long STANDBY_BACKOFF_MAX_MS = 1_000;

  private final WorkerConfig config;
  private final SessionHost host;
  // Only the loop's thread moves through it.
  private final FollowOrder<CoordinatorAddress> order;
  // One channel per address: each has its own TLS authority (and, locally, its own token).
  private final Map<CoordinatorAddress, Link> links = new ConcurrentHashMap<>();
  private final Set<CoordinatorAddress> toldWaiting = new HashSet<>();

  /** A channel, and the settings it was made with (see WorkerConfig#security(Function)). */
  private record Link(ManagedChannel channel, ClientSecurity security) {}

  // Applied to each channel's builder (many workers in one process share their event loops).
  private final UnaryOperator<NettyChannelBuilder> tuning;

  AttachLoop(WorkerConfig config, SessionHost host) {
    this(config, host, UnaryOperator.identity());
  }

  /**
   * @param tuning applied to each channel's builder (many workers in one process share their event
   *     loops and executor)
   */
  AttachLoop(WorkerConfig config, SessionHost host, UnaryOperator<NettyChannelBuilder> tuning) {
    this.config = config;
    this.host = host;
    this.order = new FollowOrder<>(config.coordinators());
    this.tuning = tuning;
  }

  /** Plain text, or TLS checked against the join token / --tls-ca, with the token on calls. */
  private static ManagedChannel channel(
      CoordinatorAddress address,
      ClientSecurity security,
      UnaryOperator<NettyChannelBuilder> tuning) {
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress(address.host(), address.port(), security.credentials())
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS)
            .maxInboundMessageSize(LinkFrames.MAX_MESSAGE_BYTES);
    if (security.serverName() != null) {
      builder.overrideAuthority(security.serverName());
    }
    return tuning.apply(builder).build();
  }

  /**
   * The link to {@code address} for the settings as they are now: a new one when they changed since
   * the last; null while there are none (see {@link WorkerConfig#security(CoordinatorAddress)}).
   */
  private Link currentLink(CoordinatorAddress address) {
    ClientSecurity now = config.security(address);
    if (now == null) {
      return null;
    }
    Link link = links.get(address);
    if (link == null || !now.sameSettings(link.security())) {
      if (link != null) {
        link.channel().shutdownNow();
      }
      link = new Link(channel(address, now, tuning), now);
      links.put(address, link);
    } else {
      // A channel that failed waits out gRPC's own growing back-off before it connects again;
      // this loop keeps its own pace, so a coordinator that came back is reached at once.
      link.channel().resetConnectBackoff();
    }
    return link;
  }

  @Override
  public void run() {
    long backoffMs = config.reconnectInitialMs();
    boolean standbyInRound = false; // a standby answered since the last back-off
    while (true) {
      CoordinatorAddress address = order.current();
      Link link = currentLink(address);
      boolean welcomed = false;
      Optional<CoordinatorAddress> hint = Optional.empty();
      if (link == null) {
        if (toldWaiting.add(address)) {
          LOG.log(
              System.Logger.Level.WARNING,
              "no token for {0} yet: waiting for this user''s coordinator to start there (or pass"
                  + " --token); nothing is sent to that port without one",
              address);
        }
      } else {
        GrpcAttach attach = new GrpcAttach(address, link.security());
        CoordinatorSession current = host.open(attach);
        if (current == null) {
          return;
        }
        attach.session = current;
        WorkerServiceGrpc.newStub(link.channel()).attach(attach);
        current.start(host.hello());
        try {
          welcomed = current.await();
        } catch (InterruptedException e) {
          attach.abort("worker interrupted");
          Thread.currentThread().interrupt();
          return;
        } finally {
          host.closed(current);
        }
        hint = attach.leader;
        standbyInRound |= attach.standby;
      }
      long waitMs;
      if (welcomed) {
        order.succeeded();
        backoffMs = config.reconnectInitialMs();
      }
      if (welcomed && hint.isEmpty()) {
        waitMs = backoffMs; // the same address first: most often it is back in a moment
      } else {
        FollowOrder.Next<CoordinatorAddress> next = order.failed(hint);
        if (next.backOff()) {
          if (!welcomed) {
            backoffMs =
                Math.min(
                    backoffMs * 2,
                    standbyInRound
                        ? Math.max(config.reconnectInitialMs(), STANDBY_BACKOFF_MAX_MS)
                        : config.reconnectMaxMs());
          }
          waitMs = backoffMs;
          standbyInRound = false;
        } else {
          waitMs = 0;
        }
        if (!next.address().equals(address)) {
          LOG.log(
              System.Logger.Level.INFO,
              "trying {0} {1}",
              next.hinted() ? "the leader" : "coordinator",
              next.address());
        }
      }
      long jittered =
          waitMs == 0 ? 0 : waitMs / 2 + ThreadLocalRandom.current().nextLong(waitMs / 2 + 1);
      if (!host.pause(jittered)) {
        return;
      }
    }
  }

  /** Closes the channels, waiting a while for calls in flight; returns whether they terminated. */
  boolean shutdown(long timeoutMs) throws InterruptedException {
    List<ManagedChannel> channels = links.values().stream().map(Link::channel).toList();
    channels.forEach(ManagedChannel::shutdown);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    boolean terminated = true;
    try {
      for (ManagedChannel channel : channels) {
        long left = Math.max(0, deadline - System.nanoTime());
        if (!channel.awaitTermination(left, TimeUnit.NANOSECONDS)) {
          terminated = false;
        }
      }
    } finally {
      channels.forEach(ManagedChannel::shutdownNow);
    }
    return terminated;
  }

  /** The gRPC Attach stream as the session's control link. */
  private final class GrpcAttach
      implements CoordinatorLink, ClientResponseObserver<WorkerMessage, CoordinatorMessage> {
    private final CoordinatorAddress address;
    private final ClientSecurity security;
    private volatile GrpcCoordinatorLink link;
    private volatile CoordinatorSession session;
    // The leader a standby named when it turned this attach away.
    private volatile Optional<CoordinatorAddress> leader = Optional.empty();
    private volatile boolean standby;

    GrpcAttach(CoordinatorAddress address, ClientSecurity security) {
      this.address = address;
      this.security = security;
    }

    @Override
    public String peer() {
      return address.toString();
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WorkerMessage> requests) {
      link = new GrpcCoordinatorLink(requests);
    }

    @Override
    public void send(WorkerMessage message) {
      GrpcCoordinatorLink current = link;
      if (current != null) {
        current.send(message);
      }
    }

    @Override
    public Transport transport() {
      return Transport.GRPC;
    }

    @Override
    public void close() {
      GrpcCoordinatorLink current = link;
      if (current != null) {
        current.close();
      }
    }

    @Override
    public void abort(String reason) {
      GrpcCoordinatorLink current = link;
      if (current != null) {
        current.abort(reason);
      }
    }

    @Override
    public void onNext(CoordinatorMessage message) {
      session.onMessage(message);
    }

    @Override
    public void onError(Throwable t) {
      link.markClosed();
      Status status = Status.fromThrowable(t);
      String reason =
          "attach to "
              + address
              + " ended: "
              + status.getCode()
              + (status.getDescription() == null ? "" : " " + status.getDescription());
      Optional<CertificateRejectedException> certificate = CertificateRejectedException.in(t);
      Optional<String> named = Leaders.hint(t);
      standby = Leaders.isStandby(status, named);
      if (named.isPresent() && status.getCode() == Status.Code.UNAVAILABLE) {
        try {
          leader = Optional.of(CoordinatorAddress.parse(named.get()));
        } catch (IllegalArgumentException e) {
          LOG.log(
              System.Logger.Level.WARNING,
              "{0} named a leader that is no HOST:PORT: {1}",
              address,
              e.getMessage());
        }
      }
      switch (status.getCode()) {
        // Refusals of the token, the certificate or a transport that cannot work between the two
        // (shared memory across hosts) repeat on every attempt: stop instead.
        case UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION ->
            host.refusedForGood(
                "the coordinator at "
                    + address
                    + " refused this worker: "
                    + status.getDescription());
        case INVALID_ARGUMENT -> session.refused(reason);
        default -> {
          if (certificate.isPresent()) {
            host.refusedForGood(certificate.get().getMessage());
          } else {
            LOG.log(
                System.Logger.Level.INFO,
                security
                    .mismatch(status)
                    .map(hint -> "attach to " + address + " failed: " + hint)
                    .orElse(reason));
          }
        }
      }
      session.ended(reason);
    }

    @Override
    public void onCompleted() {
      link.close();
      session.ended("the coordinator ended the stream");
    }
  }
}
