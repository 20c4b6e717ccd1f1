package dev.weft.coordinator;

import dev.weft.v1.JobServiceGrpc;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.SocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Bounds what one client connection holds open on the JobService: calls in flight ({@code
 * --max-calls-per-connection}) and, among them, WatchJob and RunJob streams ({@code
 * --max-watches-per-connection}). A call past a limit ends at once with RESOURCE_EXHAUSTED naming
 * the limit, its value and its flag. A call counts from its start until it ends — completed,
 * failed, cancelled by the client, or cut off with its connection — so a client that opens and
 * cancels streams holds nothing once they are gone. It is installed on the JobService alone:
 * workers' Attach streams, health checks and reflection are not counted.
 *
 * <p>A connection is known by the transport's remote address ({@link
 * Grpc#TRANSPORT_ATTR_REMOTE_ADDR}). For TCP that is the client's IP address and port: while a
 * connection is open the kernel gives no other connection to our listening socket the same pair
 * (the 4-tuple of a TCP connection is unique, and our half of it is fixed), so the address names
 * exactly one connection; its count is dropped when its last call ends, before the port can be
 * reused. (Over the in-process transport every client has the server's name as address and so
 * shares one count; the coordinator serves only TCP and its Unix socket, where the remote address
 * is a {@link dev.weft.coordinator.security.UnixPeer} of the connection's own.)
 */
final class ConnectionLimits implements ServerInterceptor {
  static final int DEFAULT_MAX_CALLS = 1_000;
  static final int DEFAULT_MAX_WATCHES = 100;
  static final String CALLS_FLAG = "--max-calls-per-connection";
  static final String WATCHES_FLAG = "--max-watches-per-connection";
  private static final Set<String> WATCHES =
      Set.of(
          JobServiceGrpc.getWatchJobMethod().getFullMethodName(),
          JobServiceGrpc.getRunJobMethod().getFullMethodName());

  /** One connection's open calls; changed only inside the map's compute, which serialises it. */
  private static final class Open {
    int calls;
    int watches;
  }

  private final int maxCalls;
  private final int maxWatches;
  private final ConcurrentHashMap<SocketAddress, Open> open = new ConcurrentHashMap<>();

  ConnectionLimits(int maxCalls, int maxWatches) {
    this.maxCalls = maxCalls;
    this.maxWatches = maxWatches;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    if (remote == null) {
      return next.startCall(call, headers);
    }
    boolean watch = WATCHES.contains(call.getMethodDescriptor().getFullMethodName());
    String refusal = acquire(remote, watch);
    if (refusal != null) {
      call.close(Status.RESOURCE_EXHAUSTED.withDescription(refusal), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    AtomicBoolean released = new AtomicBoolean();
    Runnable release =
        () -> {
          if (released.compareAndSet(false, true)) {
            release(remote, watch);
          }
        };
    ServerCall.Listener<Q> listener;
    try {
      listener = next.startCall(call, headers);
    } catch (RuntimeException e) {
      release.run();
      throw e;
    }
    // gRPC ends every call with exactly one of these, however it ends.
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onComplete() {
        try {
          super.onComplete();
        } finally {
          release.run();
        }
      }

      @Override
      public void onCancel() {
        try {
          super.onCancel();
        } finally {
          release.run();
        }
      }
    };
  }

  /** Counts a call of {@code remote}; the refusal to send instead, or null when it fits. */
  private String acquire(SocketAddress remote, boolean watch) {
    String[] refusal = new String[1];
    open.compute(
        remote,
        (address, counts) -> {
          Open c = counts == null ? new Open() : counts;
          if (c.calls >= maxCalls) {
            refusal[0] =
                "calls per connection: this connection has "
                    + c.calls
                    + " JobService calls in flight, its limit (max calls per connection "
                    + maxCalls
                    + "); wait for some to end, use more connections, or start the coordinator"
                    + " with a higher "
                    + CALLS_FLAG;
          } else if (watch && c.watches >= maxWatches) {
            refusal[0] =
                "watches per connection: this connection has "
                    + c.watches
                    + " WatchJob and RunJob streams open, its limit (max watches per connection "
                    + maxWatches
                    + "); end some, or start the coordinator with a higher "
                    + WATCHES_FLAG;
          } else {
            c.calls++;
            if (watch) {
              c.watches++;
            }
          }
          return c.calls == 0 ? null : c;
        });
    return refusal[0];
  }

  private void release(SocketAddress remote, boolean watch) {
    open.computeIfPresent(
        remote,
        (address, c) -> {
          c.calls--;
          if (watch) {
            c.watches--;
          }
          return c.calls == 0 ? null : c;
        });
  }

  /** Calls in flight on the connection from {@code remote} (for tests and diagnostics). */
  int calls(SocketAddress remote) {
    Open c = open.get(remote);
    return c == null ? 0 : c.calls;
  }

  /** Connections with a call in flight. */
  int connections() {
    return open.size();
  }
}
