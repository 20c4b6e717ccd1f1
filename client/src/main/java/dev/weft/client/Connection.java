package dev.weft.client;

import dev.weft.security.CertificateRejectedException;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobServiceGrpc.JobServiceBlockingStub;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import dev.weft.wire.FollowOrder;
import dev.weft.wire.Leaders;
import io.grpc.Channel;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The JobService at one coordinator, or at the leader of several sharing a journal: every call
 * carries a deadline, and a failure becomes a {@link WeftException} naming the address. An address
 * is a TCP port (TLS and a token, as its {@link Route} says) or a coordinator's Unix socket.
 *
 * <p>Given several addresses (one leads, the others stand by), it follows the leader: a call that
 * was not acted on (the connection was refused, or a standby answered) is tried again at the leader
 * the standby named, else at the next address, for up to the patience. A call that may have been
 * acted on is tried again only when a repeat changes nothing: reads, and submissions, which carry a
 * request id so that the coordinator answers a repeat with the job the first sending made.
 */
final class Connection implements AutoCloseable {
  static final Duration UNARY_DEADLINE = Duration.ofSeconds(10);

  /** How long a client looks for a leader (or waits for its one coordinator to come back). */
  static final Duration FOLLOW_PATIENCE = Duration.ofSeconds(30);

  private static final long FIRST_BACKOFF_MS = 100;
  private static final long MAX_BACKOFF_MS = 2_000;

  /** Waits between tries; a watch's ends early when it is stopped. */
  interface Pause {
    void pause(long ms) throws InterruptedException;
  }

  private final Addresses listed;
  private final Function<Address, Route> routes;
  private final Duration patience;
  private final Dialer dialer;
  private final String userAgent;
  // Guarded by `this`; never held over a call or a pause.
  private final FollowOrder<Address> order;
  private final Map<Address, Endpoint> endpoints = new HashMap<>();
  // Replaced after their route changed; closed with the client, as a call may still be on one.
  private final List<Endpoint> retired = new ArrayList<>();
  private boolean closed;

  /**
   * @param routes how to reach each address (those listed, and leaders standbys name), asked again
   *     after a failure there: a local coordinator's token or socket may have appeared
   */
  Connection(
      Addresses listed,
      Function<Address, Route> routes,
      Duration patience,
      Dialer dialer,
      String userAgent) {
    this.listed = listed;
    this.routes = routes;
    this.patience = patience;
    this.dialer = dialer;
    this.userAgent = userAgent;
    this.order = new FollowOrder<>(listed.all());
  }

  /** A channel to one address (the port, or the socket that stands for it). */
  private final class Endpoint {
    final Address listedAs; // the address given (or named by a standby) this reaches
    final Route route;
    final Dialer.Dialed dialed; // null when the route has nothing to talk with

    Endpoint(Address listedAs, Route route) {
      this.listedAs = listedAs;
      this.route = route;
      this.dialed = route.security() == null ? null : dialer.dial(route, userAgent);
    }

    Address address() {
      return route.target();
    }

    ManagedChannel channel() {
      return dialed == null ? null : dialed.channel();
    }

    /** Starts closing; does not wait. */
    void shutdown() {
      if (dialed != null) {
        dialed.channel().shutdown();
      }
    }

    /** Closes one that nothing used. */
    void discard() {
      if (dialed != null) {
        dialed.channel().shutdownNow();
        dialed.release().run();
      }
    }

    void awaitClosed() throws InterruptedException {
      if (dialed != null) {
        if (!dialed.channel().awaitTermination(5, TimeUnit.SECONDS)) {
          dialed.channel().shutdownNow();
        }
        dialed.release().run();
      }
    }
  }

  /** The endpoint of the address to try now, made on first use. */
  private Endpoint current() {
    Address address;
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("the client is closed");
      }
      address = order.current();
      Endpoint known = endpoints.get(address);
      if (known != null) {
        return known;
      }
    }
    // Resolving may read files (a token, the registry): outside the lock.
    Endpoint made = new Endpoint(address, routes.apply(address));
    Endpoint winner;
    synchronized (this) {
      if (closed) {
        winner = null;
      } else {
        winner = endpoints.putIfAbsent(address, made);
        if (winner == null) {
          return made;
        }
      }
    }
    made.discard();
    if (winner == null) {
      throw new IllegalStateException("the client is closed");
    }
    return winner;
  }

  /**
   * After a failure at {@code failed}: asks for its route again (a local coordinator may have
   * started there since), replacing its channel if the route changed, and lets its channel connect
   * again at once instead of after gRPC's own growing back-off.
   */
  private void refresh(Endpoint failed) {
    Route now = routes.apply(failed.listedAs);
    if (now.same(failed.route)) {
      if (failed.channel() != null) {
        failed.channel().resetConnectBackoff();
      }
      return;
    }
    Endpoint fresh = new Endpoint(failed.listedAs, now);
    boolean replaced;
    synchronized (this) {
      replaced = !closed && endpoints.replace(failed.listedAs, failed, fresh);
      if (replaced) {
        retired.add(failed);
      }
    }
    // A replaced channel may still carry another thread's call: let it finish.
    if (replaced) {
      failed.shutdown();
    } else {
      fresh.discard();
    }
  }

  /** The address the last call went to (or the next will): the leader as last found. */
  Address address() {
    return current().address();
  }

  /** Whether several coordinators were given: a call whose answer was lost may go to another. */
  boolean followsLeader() {
    return listed.isList();
  }

  /**
   * Fails now, as {@link #stub} would, when there is nothing to talk to the only address with (no
   * token given or found for it).
   */
  void checkCredentials() {
    if (!listed.isList()) {
      Endpoint at = current();
      if (at.channel() == null) {
        throw noCredentials(at);
      }
    }
  }

  /** A stub for the address to try now whose calls must end within {@code deadline}. */
  JobServiceBlockingStub stub(Duration deadline) {
    return JobServiceGrpc.newBlockingStub(channel(current()))
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The channel of the address to try now, for streaming calls. */
  Channel channel() {
    return channel(current());
  }

  /**
   * {@code at}'s channel; with nothing to talk to it with (no token for it yet), a failure as of a
   * refused connection: nothing is sent.
   */
  private Channel channel(Endpoint at) {
    if (at.channel() == null) {
      // As a refused connection, so that a watch waits for the coordinator (and its registry
      // entry) to come back; what it means is said where failures are (unreachable).
      throw Status.UNAVAILABLE
          .withDescription("no token for " + at.address())
          .withCause(new NothingSent("no token for " + at.address() + ": nothing sent there"))
          .asRuntimeException();
    }
    return at.channel();
  }

  /** No connection was made, as none may be without a token: like a refused one. */
  private static final class NothingSent extends java.net.ConnectException {
    private static final long serialVersionUID = 1L;

    NothingSent(String message) {
      super(message);
    }
  }

  boolean isConnected() {
    Endpoint at = current();
    return at.channel() != null && at.channel().getState(false) == ConnectivityState.READY;
  }

  /** A read: tried again after any UNAVAILABLE, since repeating it changes nothing. */
  <T> T read(Function<JobServiceBlockingStub, T> rpc) {
    return call(rpc, true, null);
  }

  /** A change: tried again only where it was not acted on. */
  <T> T change(Function<JobServiceBlockingStub, T> rpc) {
    return call(rpc, false, null);
  }

  /**
   * A submission carrying a request id: with several coordinators, sent again to the leader after
   * any UNAVAILABLE; with one, a connection that broke after it was sent is reported as such.
   */
  <T> T submit(Function<JobServiceBlockingStub, T> rpc) {
    return call(rpc, listed.isList(), "submitted");
  }

  /**
   * @param what for a change that must not be repeated blindly, what it did (for the message when
   *     the connection broke after it was sent); null for one that may be
   */
  private <T> T call(Function<JobServiceBlockingStub, T> rpc, boolean idempotent, String what) {
    Follow follow = follow(false, Thread::sleep);
    while (true) {
      Endpoint at = current();
      try {
        return rpc.apply(
            JobServiceGrpc.newBlockingStub(channel(at))
                .withDeadlineAfter(UNARY_DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
      } catch (StatusRuntimeException e) {
        // With several coordinators, one that answers nothing within the deadline (stopped, cut
        // off) is passed by as one that is down.
        boolean unavailable =
            e.getStatus().getCode() == Status.Code.UNAVAILABLE
                || (listed.isList()
                    && idempotent
                    && e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED);
        if (unavailable && !idempotent && !Leaders.notActedOn(e) && what != null) {
          throw maybeActedOn(at, e, what);
        }
        if (!unavailable || !(idempotent || Leaders.notActedOn(e))) {
          throw failure(at, e);
        }
        follow.failed(at, e);
      }
    }
  }

  /**
   * Looks for the leader across the calls of one operation: {@code patient} keeps trying even a
   * single address that is not a standby (a watch waiting for its coordinator to come back).
   */
  Follow follow(boolean patient, Pause pause) {
    return new Follow(patient, pause);
  }

  /** One operation's search for the leader: its patience and back-off. */
  final class Follow {
    private final boolean patient;
    private final Pause pause;
    private long noLeaderSince = -1;
    private long backoffMs = FIRST_BACKOFF_MS;

    private Follow(boolean patient, Pause pause) {
      this.patient = patient;
      this.pause = pause;
    }

    /** A call went through: a later failure starts a new search. */
    void reset() {
      noLeaderSince = -1;
      backoffMs = FIRST_BACKOFF_MS;
      synchronized (Connection.this) {
        order.succeeded();
      }
    }

    /**
     * The call at the address to try now failed UNAVAILABLE (or its deadline passed): moves to the
     * address to try next, after a pause when every address has failed in a row. Throws what the
     * failure means when it is not one to follow, or once no leader was found within the patience.
     */
    void failed(StatusRuntimeException e) {
      failed(current(), e);
    }

    private void failed(Endpoint at, StatusRuntimeException e) {
      Optional<Address> hint = Leaders.hint(e).flatMap(Connection::parseHint);
      boolean standby = Leaders.isStandby(e.getStatus(), Leaders.hint(e));
      if (!patient && !listed.isList() && !standby) {
        throw failure(at, e); // one coordinator, not there
      }
      if (wouldRepeat(at, e.getStatus())) {
        throw failure(at, e); // the pair shares its CA and settings: no address would do
      }
      move(at, hint, () -> giveUp(at, failure(at, e)));
    }

    private void move(Endpoint at, Optional<Address> hint, Supplier<WeftException> outOfTime) {
      long now = System.nanoTime();
      if (noLeaderSince < 0) {
        noLeaderSince = now;
      } else if (now - noLeaderSince > patience.toNanos()) {
        throw outOfTime.get();
      }
      boolean backOff;
      synchronized (Connection.this) {
        // Another thread (a cancel beside a watch) may have moved on from there already.
        backOff = order.current().equals(at.listedAs) && order.failed(hint).backOff();
      }
      refresh(at);
      if (backOff) {
        try {
          pause.pause(backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new UnavailableException(
              Status.Code.UNAVAILABLE,
              UnavailableException.Reason.INTERRUPTED,
              at.address().toString(),
              "interrupted",
              List.of(at.address().toString()),
              "interrupted while looking for the leading coordinator",
              ie);
        }
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      }
    }

    private WeftException giveUp(Endpoint at, WeftException last) {
      if (!listed.isList()) {
        return last;
      }
      List<String> tried = order().stream().map(Address::toString).toList();
      return new UnavailableException(
          Status.Code.UNAVAILABLE,
          UnavailableException.Reason.NO_LEADER,
          at.address().toString(),
          last.getMessage(),
          tried,
          "no coordinator at "
              + String.join(", ", tried)
              + " led within "
              + format(patience)
              + " (the last tried, "
              + at.address()
              + ": "
              + last.getMessage()
              + ")",
          last);
    }
  }

  /**
   * A failure no other try mends: the coordinator's certificate was rejected, or TLS met plain
   * text. (Plain text meeting TLS looks like a connection that broke, as a dying coordinator's
   * does: that one is followed.)
   */
  private static boolean wouldRepeat(Endpoint at, Status status) {
    ClientSecurity security = at.route.security();
    return CertificateRejectedException.in(status.getCause()).isPresent()
        || (security != null && security.tls() && security.mismatch(status).isPresent());
  }

  private synchronized List<Address> order() {
    return order.addresses();
  }

  /** The leader a standby named, as an address; a name that is none is ignored. */
  private static Optional<Address> parseHint(String hostPort) {
    try {
      return Optional.of(Address.parse(hostPort, false));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** What a failed call at the address to try now means, as a {@link WeftException}. */
  WeftException failure(StatusRuntimeException e) {
    return failure(current(), e);
  }

  private WeftException failure(Endpoint at, StatusRuntimeException e) {
    Status status = e.getStatus();
    String address = at.address().toString();
    String message = status.getDescription() != null ? status.getDescription() : describe(status);
    return switch (status.getCode()) {
      case UNAUTHENTICATED -> new UnauthenticatedException(address, message, e);
      case PERMISSION_DENIED -> new PermissionDeniedException(address, message, e);
      case INVALID_ARGUMENT -> new InvalidArgumentException(address, message, e);
      case NOT_FOUND -> new NotFoundException(address, message, e);
      case UNAVAILABLE, DEADLINE_EXCEEDED -> unreachable(at, status, e);
      case UNIMPLEMENTED ->
          unavailable(
              at,
              status,
              UnavailableException.Reason.NOT_A_COORDINATOR,
              message,
              "no weft coordinator at " + address + ", something else answered (" + message + ")",
              e);
      default -> new WeftException(status.getCode(), address, message, e);
    };
  }

  /**
   * The connection to the coordinator at the address to try now broke after a call that must not be
   * repeated blindly was sent: it may have been acted on. A rejected certificate or TLS meeting
   * plain text, which no call gets past, is said as such.
   */
  WeftException maybeActedOn(StatusRuntimeException e, String what) {
    return maybeActedOn(current(), e, what);
  }

  private WeftException maybeActedOn(Endpoint at, StatusRuntimeException e, String what) {
    Status status = e.getStatus();
    if (wouldRepeat(at, status)) {
      return failure(at, e);
    }
    ClientSecurity security = at.route.security();
    String why =
        security == null ? describe(status) : security.mismatch(status).orElse(describe(status));
    return unavailable(
        at,
        status,
        UnavailableException.Reason.MAYBE_ACTED_ON,
        why,
        "the connection to the coordinator at "
            + at.address()
            + " broke after the request was sent ("
            + why
            + "): it may have been "
            + what,
        e);
  }

  /** What {@code status} (a deadline the client kept itself, say) means at the address now. */
  WeftException unreachable(Status status) {
    Endpoint at = current();
    return unreachable(at, status, status.asRuntimeException());
  }

  private WeftException unreachable(Endpoint at, Status status, Throwable cause) {
    Address address = at.address();
    if (status.getCause() instanceof NothingSent) {
      return noCredentials(at);
    }
    Optional<CertificateRejectedException> certificate =
        CertificateRejectedException.in(status.getCause());
    if (certificate.isPresent()) {
      // Not a passing trouble: a token for another coordinator, or a name the certificate lacks.
      return new UntrustedCoordinatorException(
          address.toString(),
          "will not talk to the coordinator at " + address + ": " + certificate.get().getMessage(),
          cause);
    }
    Optional<String> mismatch =
        at.route.security() == null ? Optional.empty() : at.route.security().mismatch(status);
    if (mismatch.isPresent()) {
      return unavailable(
          at,
          status,
          UnavailableException.Reason.TLS_MISMATCH,
          mismatch.get(),
          "cannot talk to the coordinator at " + address + ": " + mismatch.get(),
          cause);
    }
    if (address.isUnix() && describe(status).contains("Permission denied")) {
      // The socket file's mode or a directory on its path keeps this user out (EACCES).
      return unavailable(
          at,
          status,
          UnavailableException.Reason.SOCKET_DENIED,
          address.socket().toString(),
          "may not connect to the coordinator's socket "
              + address.socket()
              + " (permission denied): it is its user's alone unless that user lets uid "
              + Long.toUnsignedString(LocalRegistry.thisUid())
              + " in, and every directory on its path must let this user through",
          cause);
    }
    String within = format(UNARY_DEADLINE);
    String why;
    if (status.getCode() != Status.Code.DEADLINE_EXCEEDED) {
      why = describe(status);
    } else if (at.channel() != null && at.channel().getState(false) == ConnectivityState.READY) {
      why = "connected, but it did not answer within " + within;
    } else {
      why = "no connection within " + within;
    }
    return unavailable(
        at,
        status,
        UnavailableException.Reason.UNREACHABLE,
        why,
        "cannot reach the coordinator at " + address + " (" + why + ")",
        cause);
  }

  private static UnavailableException unavailable(
      Endpoint at,
      Status status,
      UnavailableException.Reason reason,
      String detail,
      String message,
      Throwable cause) {
    String address = at.address().toString();
    return new UnavailableException(
        status.getCode(), reason, address, detail, List.of(address), message, cause);
  }

  private static UnavailableException noCredentials(Endpoint at) {
    Address address = at.address();
    String why =
        "a client talks to a coordinator only over TLS with a token, so that whoever holds the port"
            + " gets nothing; give a client token (`weft token create NAME --role submit` on its"
            + " host), or insecure credentials for a coordinator started with --insecure";
    String message =
        address.isLoopback()
            ? "no coordinator of this user serves "
                + address
                + ": start one with 'weft coordinator'"
            : "no token for the coordinator at " + address + ": " + why;
    return new UnavailableException(
        Status.Code.UNAVAILABLE,
        UnavailableException.Reason.NO_CREDENTIALS,
        address.toString(),
        "no token given or found",
        List.of(address.toString()),
        message,
        null);
  }

  /** The root cause's message, or the status; any refusal reads "connection refused". */
  static String describe(Status status) {
    Throwable cause = status.getCause();
    while (cause != null && cause.getCause() != null) {
      cause = cause.getCause();
    }
    String detail =
        cause != null && cause.getMessage() != null
            ? cause.getMessage()
            : status.getDescription() != null ? status.getDescription() : status.getCode().name();
    return detail.toLowerCase(Locale.ROOT).contains("refused") ? "connection refused" : detail;
  }

  /** {@code 1h2m3s}, {@code 10s}, {@code 250ms}: as the {@code weft} command writes durations. */
  static String format(Duration d) {
    if (d.isZero()) {
      return "0s";
    }
    StringBuilder out = new StringBuilder();
    if (d.toDays() > 0) {
      out.append(d.toDays()).append('d');
    }
    if (d.toHoursPart() > 0) {
      out.append(d.toHoursPart()).append('h');
    }
    if (d.toMinutesPart() > 0) {
      out.append(d.toMinutesPart()).append('m');
    }
    if (d.toSecondsPart() > 0) {
      out.append(d.toSecondsPart()).append('s');
    }
    if (d.toMillisPart() > 0) {
      out.append(d.toMillisPart()).append("ms");
    }
    return out.toString();
  }

  @Override
  public void close() {
    List<Endpoint> all;
    synchronized (this) {
      closed = true;
      all = new ArrayList<>(endpoints.values());
      all.addAll(retired);
    }
    all.forEach(Endpoint::shutdown);
    try {
      for (Endpoint endpoint : all) {
        endpoint.awaitClosed();
      }
    } catch (InterruptedException e) {
      all.forEach(Endpoint::discard);
      Thread.currentThread().interrupt();
    }
  }
}
