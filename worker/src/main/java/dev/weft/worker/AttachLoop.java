package dev.weft.worker;

import dev.weft.security.CertificateRejectedException;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import dev.weft.wire.LinkFrames;
import dev.weft.wire.Transport;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A worker that joins its coordinator over gRPC: attaches, runs the session to its end, backs off
 * (with jitter, doubling after a failed attempt), and attaches again, until the worker stops.
 */
final class AttachLoop implements Runnable {
  private static final System.Logger LOG = System.getLogger(AttachLoop.class.getName());

  private final WorkerConfig config;
  private final SessionHost host;
  private final UnaryOperator<NettyChannelBuilder> tuning;
  // Replaced when the settings change between attaches (see WorkerConfig#security(Supplier)).
  private volatile ManagedChannel channel;
  private volatile ClientSecurity security;

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
    this.tuning = tuning;
  }

  /** Plain text, or TLS checked against the join token / --tls-ca, with the token on calls. */
  private static ManagedChannel channel(
      WorkerConfig config, ClientSecurity security, UnaryOperator<NettyChannelBuilder> tuning) {
    NettyChannelBuilder builder =
        NettyChannelBuilder.forAddress(
                config.coordinatorHost(), config.coordinatorPort(), security.credentials())
            .keepAliveTime(30, TimeUnit.SECONDS)
            .keepAliveTimeout(10, TimeUnit.SECONDS)
            .maxInboundMessageSize(LinkFrames.MAX_MESSAGE_BYTES);
    if (security.serverName() != null) {
      builder.overrideAuthority(security.serverName());
    }
    return tuning.apply(builder).build();
  }

  /**
   * A channel for the settings as they are now: a new one when they changed since the last; null
   * while there are none (see {@link WorkerConfig#security(java.util.function.Supplier)}).
   */
  private ManagedChannel currentChannel() {
    ClientSecurity now = config.security();
    if (now == null) {
      return null;
    }
    if (!now.sameSettings(security)) {
      if (channel != null) {
        channel.shutdownNow();
      }
      security = now;
      channel = channel(config, now, tuning);
    }
    return channel;
  }

  @Override
  public void run() {
    long backoffMs = config.reconnectInitialMs();
    boolean toldWaiting = false;
    while (true) {
      ManagedChannel channel0 = currentChannel();
      if (channel0 == null) {
        if (!toldWaiting) {
          LOG.log(
              System.Logger.Level.WARNING,
              "no token for {0} yet: waiting for this user''s coordinator to start there (or pass"
                  + " --token); nothing is sent to that port without one",
              coordinator());
          toldWaiting = true;
        }
        backoffMs = Math.min(backoffMs * 2, config.reconnectMaxMs());
        if (!host.pause(backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1))) {
          return;
        }
        continue;
      }
      GrpcAttach attach = new GrpcAttach();
      CoordinatorSession current = host.open(attach);
      if (current == null) {
        return;
      }
      attach.session = current;
      WorkerServiceGrpc.newStub(channel0).attach(attach);
      current.start(host.hello());
      boolean welcomed;
      try {
        welcomed = current.await();
      } catch (InterruptedException e) {
        attach.abort("worker interrupted");
        Thread.currentThread().interrupt();
        return;
      } finally {
        host.closed(current);
      }
      backoffMs =
          welcomed ? config.reconnectInitialMs() : Math.min(backoffMs * 2, config.reconnectMaxMs());
      if (!host.pause(backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1))) {
        return;
      }
    }
  }

  /** Closes the channel, waiting a while for calls in flight; returns whether it terminated. */
  boolean shutdown(long timeoutMs) throws InterruptedException {
    ManagedChannel channel = this.channel;
    if (channel == null) {
      return true;
    }
    channel.shutdown();
    try {
      if (channel.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS)) {
        return true;
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      throw e;
    }
    channel.shutdownNow();
    return false;
  }

  private String coordinator() {
    return config.coordinatorHost() + ":" + config.coordinatorPort();
  }

  /** The gRPC Attach stream as the session's control link. */
  private final class GrpcAttach
      implements CoordinatorLink, ClientResponseObserver<WorkerMessage, CoordinatorMessage> {
    private volatile GrpcCoordinatorLink link;
    private volatile CoordinatorSession session;

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
              + coordinator()
              + " ended: "
              + status.getCode()
              + (status.getDescription() == null ? "" : " " + status.getDescription());
      Optional<CertificateRejectedException> certificate = CertificateRejectedException.in(t);
      switch (status.getCode()) {
        // Refusals of the token, the certificate or a transport that cannot work between the two
        // (shared memory across hosts) repeat on every attempt: stop instead.
        case UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION ->
            host.refusedForGood(
                "the coordinator at "
                    + coordinator()
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
                    .map(hint -> "attach to " + coordinator() + " failed: " + hint)
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
