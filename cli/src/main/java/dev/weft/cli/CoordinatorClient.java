package dev.weft.cli;

import com.google.protobuf.util.Durations;
import dev.weft.security.CertificateRejectedException;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.DrainWorkerRequest;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobServiceGrpc.JobServiceBlockingStub;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.JobView;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListJobsResponse;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.ResumeWorkerRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import dev.weft.wire.FollowOrder;
import dev.weft.wire.Leaders;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The JobService as the CLI uses it: every call carries a deadline, and "cannot reach the
 * coordinator" becomes one clear {@link CliException} naming the address. An address is a TCP port
 * (TLS and a token, as its {@link Route} says) or a coordinator's Unix socket ({@code unix:PATH}:
 * plain text and no token; the coordinator knows the caller by its uid).
 *
 * <p>Given several addresses (coordinators sharing one journal: one leads, the others stand by), it
 * follows the leader: a call that was not acted on (the connection was refused, or a standby
 * answered) is tried again at the leader the standby named, else at the next address, for up to
 * {@link #FOLLOW_PATIENCE}. A call that may have been acted on is tried again only when a repeat
 * changes nothing: reads, and submissions, which carry a request id of their own so that the
 * coordinator answers a repeat with the job the first sending made.
 */
final class CoordinatorClient implements AutoCloseable {
  static final Duration UNARY_DEADLINE = Duration.ofSeconds(10);

  /** How long a client looks for a leader (or waits for its one coordinator to come back). */
  static final Duration FOLLOW_PATIENCE = Duration.ofSeconds(30);

  private static final Duration KEEPALIVE = Duration.ofSeconds(10);
  private static final Duration KEEPALIVE_TIMEOUT = Duration.ofSeconds(5);
  private static final long FIRST_BACKOFF_MS = 100;
  private static final long MAX_BACKOFF_MS = 2_000;
  private static final int MAX_INBOUND_BYTES = 64 * 1024 * 1024;

  /**
   * How an address is reached as things are now: {@code target} is the address itself or the
   * coordinator's Unix socket that stands for it; {@code security} is null when there is nothing to
   * talk with (no token given or found), and then nothing is sent.
   */
  record Route(Address target, ClientSecurity security) {
    boolean same(Route other) {
      return other != null
          && target.equals(other.target)
          && (security == null ? other.security == null : security.sameSettings(other.security));
    }
  }

  /** Waits between tries; a watcher's ends early when it is detached. */
  interface Pause {
    void pause(long ms) throws InterruptedException;
  }

  private final Addresses listed;
  private final Function<Address, Route> routes;
  private final Duration patience;
  // Guarded by `this`; never held over a call or a pause.
  private final FollowOrder<Address> order;
  private final Map<Address, Endpoint> endpoints = new HashMap<>();
  // Replaced after their route changed; closed with the client, as a call may still be on one.
  private final List<Endpoint> retired = new ArrayList<>();
  private boolean closed;

  /** In plain text: a coordinator on loopback (the demo's). */
  CoordinatorClient(Address address) {
    this(address, new ClientSecurity().conclude());
  }

  /** One address, and any leader it names, with the same settings. */
  CoordinatorClient(Address address, ClientSecurity security) {
    this(
        Addresses.of(address),
        target -> new Route(target, target.isUnix() ? new ClientSecurity().conclude() : security));
  }

  /**
   * @param routes how to reach each address (those listed, and leaders standbys name), asked again
   *     after a failure there: a local coordinator's token or socket may have appeared
   */
  CoordinatorClient(Addresses listed, Function<Address, Route> routes) {
    this(listed, routes, FOLLOW_PATIENCE);
  }

  /**
   * @param patience how long to look for a leader before giving up
   */
  CoordinatorClient(Addresses listed, Function<Address, Route> routes, Duration patience) {
    this.listed = listed;
    this.routes = routes;
    this.patience = patience;
    this.order = new FollowOrder<>(listed.all());
    if (listed.first().isUnix() && !Epoll.isAvailable()) {
      throw CliException.usage(
          "cannot use " + listed.first() + ": Unix sockets need Linux's epoll, not available here");
    }
  }

  /** A channel to one address (the port, or the socket that stands for it). */
  private static final class Endpoint {
    final Address listedAs; // the address given (or named by a standby) this reaches
    final Route route;
    final ManagedChannel channel; // null when the route has nothing to talk with
    // The socket channel's event loop; null over TCP (gRPC's shared one).
    final EventLoopGroup socketLoop;

    Endpoint(Address listedAs, Route route) {
      this.listedAs = listedAs;
      this.route = route;
      Address address = route.target();
      ManagedChannelBuilder<?> builder;
      if (route.security() == null) {
        channel = null;
        socketLoop = null;
        return;
      }
      if (address.isUnix()) {
        if (!Epoll.isAvailable()) {
          throw CliException.usage(
              "cannot use " + address + ": Unix sockets need Linux's epoll, not available here");
        }
        socketLoop = new EpollEventLoopGroup(1, new DefaultThreadFactory("weft-cli-socket", true));
        builder =
            NettyChannelBuilder.forAddress(new DomainSocketAddress(address.socket().toString()))
                .eventLoopGroup(socketLoop)
                .channelType(EpollDomainSocketChannel.class)
                .usePlaintext();
      } else {
        socketLoop = null;
        builder =
            Grpc.newChannelBuilderForAddress(
                address.host(), address.port(), route.security().credentials());
        if (route.security().serverName() != null) {
          builder.overrideAuthority(route.security().serverName());
        }
      }
      channel =
          builder
              .maxInboundMessageSize(MAX_INBOUND_BYTES)
              // A coordinator stopped (SIGSTOP) or cut off keeps its connections open and answers
              // nothing: pings end a watch on it, so the wait moves on (the server allows them).
              .keepAliveTime(KEEPALIVE.toSeconds(), TimeUnit.SECONDS)
              .keepAliveTimeout(KEEPALIVE_TIMEOUT.toSeconds(), TimeUnit.SECONDS)
              .userAgent("weft-cli/" + BuildInfo.version())
              .build();
    }

    Address address() {
      return route.target();
    }

    /** Starts closing; does not wait. */
    void shutdown() {
      if (channel != null) {
        channel.shutdown();
      }
    }

    /** Closes one that nothing used. */
    void discard() {
      if (channel != null) {
        channel.shutdownNow();
      }
      if (socketLoop != null) {
        socketLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }

    void awaitClosed() throws InterruptedException {
      if (channel != null && !channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
      if (socketLoop != null) {
        socketLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      }
    }
  }

  /** The endpoint of the address to try now, made on first use. */
  private Endpoint current() {
    Address address;
    synchronized (this) {
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
      if (failed.channel != null) {
        failed.channel.resetConnectBackoff();
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

  /**
   * Submits a job. Its request id lets a submission whose answer was lost go again to the leader;
   * with one coordinator there is no other to go to, and the user is told it may have been made.
   */
  Job submit(JobSpec spec) {
    SubmitJobRequest request =
        SubmitJobRequest.newBuilder().setSpec(spec).setRequestId(newRequestId()).build();
    return call(s -> s.submitJob(request), listed.isList(), "submitted");
  }

  /** A key for one submission (SubmitJobRequest.request_id): sent again, it makes no second job. */
  static String newRequestId() {
    return java.util.UUID.randomUUID().toString();
  }

  /** Whether several coordinators were given: a call whose answer was lost may go to another. */
  boolean followsLeader() {
    return listed.isList();
  }

  Job get(String id) {
    return read(s -> s.getJob(GetJobRequest.newBuilder().setId(id).build()));
  }

  /** The newest jobs, as summaries unless {@code full}. */
  ListJobsResponse list(Collection<JobState> states, int limit, boolean full) {
    ListJobsRequest request =
        ListJobsRequest.newBuilder()
            .addAllStates(states)
            .setLimit(limit)
            .setView(full ? JobView.JOB_VIEW_FULL : JobView.JOB_VIEW_SUMMARY)
            .build();
    return read(s -> s.listJobs(request));
  }

  /** Cancels with the job's own grace period between SIGTERM and SIGKILL. */
  CancelJobResponse cancel(String id, String reason) {
    return change(
        s -> s.cancelJob(CancelJobRequest.newBuilder().setId(id).setReason(reason).build()));
  }

  /** Cancels with {@code grace} between SIGTERM and SIGKILL instead of the job's own. */
  CancelJobResponse cancel(String id, String reason, Duration grace) {
    CancelJobRequest request =
        CancelJobRequest.newBuilder()
            .setId(id)
            .setReason(reason)
            .setGrace(Durations.fromNanos(grace.toNanos()))
            .build();
    return change(s -> s.cancelJob(request));
  }

  Job setPriority(String id, int priority) {
    return change(
        s ->
            s.setJobPriority(
                dev.weft.v1.SetJobPriorityRequest.newBuilder()
                    .setId(id)
                    .setPriority(priority)
                    .build()));
  }

  List<WorkerInfo> workers() {
    return read(s -> s.listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersList());
  }

  WorkerInfo drainWorker(String id, String reason) {
    return change(
        s -> s.drainWorker(DrainWorkerRequest.newBuilder().setId(id).setReason(reason).build()));
  }

  WorkerInfo resumeWorker(String id) {
    return change(s -> s.resumeWorker(ResumeWorkerRequest.newBuilder().setId(id).build()));
  }

  /**
   * A stub whose calls must end within {@code deadline}, for the address to try now; create one per
   * call.
   */
  JobServiceBlockingStub stub(Duration deadline) {
    return stub(current(), deadline);
  }

  /**
   * A stub on {@code at}'s channel; with nothing to talk to it with (no token for it yet), a
   * failure as of a refused connection: nothing is sent.
   */
  private JobServiceBlockingStub stub(Endpoint at, Duration deadline) {
    if (at.channel == null) {
      if (!listed.isList() && at.listedAs.equals(listed.first())) {
        throw TlsClientOptions.noToken(at.address(), false);
      }
      throw Status.UNAVAILABLE
          .withDescription("no token for " + at.address())
          .withCause(new NothingSent("no token for " + at.address() + ": nothing sent there"))
          .asRuntimeException();
    }
    return JobServiceGrpc.newBlockingStub(at.channel)
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** No connection was made, as none may be without a token: like a refused one. */
  private static final class NothingSent extends java.net.ConnectException {
    NothingSent(String message) {
      super(message);
    }
  }

  boolean isConnected() {
    Endpoint at = current();
    return at.channel != null && at.channel.getState(false) == ConnectivityState.READY;
  }

  /** A read: tried again after any UNAVAILABLE, since repeating it changes nothing. */
  private <T> T read(Function<JobServiceBlockingStub, T> rpc) {
    return call(rpc, true, null);
  }

  /** A change: tried again only where it was not acted on. */
  private <T> T change(Function<JobServiceBlockingStub, T> rpc) {
    return call(rpc, false, null);
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
        return rpc.apply(stub(at, UNARY_DEADLINE));
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
   * single address that is not a standby (a watcher waiting for its coordinator to come back).
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
      synchronized (CoordinatorClient.this) {
        order.succeeded();
      }
    }

    /**
     * The call at {@code at} failed UNAVAILABLE (or its deadline passed): moves to the address to
     * try next, after a pause when every address has failed in a row. Throws what the failure means
     * to the user when it is not one to follow, or once no leader was found within the client's
     * patience ({@link #FOLLOW_PATIENCE} unless a test chose another).
     */
    void failed(StatusRuntimeException e) {
      failed(current(), e);
    }

    private void failed(Endpoint at, StatusRuntimeException e) {
      Optional<Address> hint = Leaders.hint(e).flatMap(CoordinatorClient::parseHint);
      boolean standby = Leaders.isStandby(e.getStatus(), Leaders.hint(e));
      if (!patient && !listed.isList() && !standby) {
        throw failure(at, e); // one coordinator, not there: as it always was
      }
      if (wouldRepeat(at, e.getStatus())) {
        throw failure(at, e); // the pair shares its CA and settings: no address would do
      }
      move(at, hint, () -> giveUp(at, failure(at, e)));
    }

    private void move(
        Endpoint at, Optional<Address> hint, java.util.function.Supplier<CliException> outOfTime) {
      long now = System.nanoTime();
      if (noLeaderSince < 0) {
        noLeaderSince = now;
      } else if (now - noLeaderSince > patience.toNanos()) {
        throw outOfTime.get();
      }
      boolean backOff;
      synchronized (CoordinatorClient.this) {
        // Another thread (a cancel beside a watch) may have moved on from there already.
        backOff = order.current().equals(at.listedAs) && order.failed(hint).backOff();
      }
      refresh(at);
      if (backOff) {
        try {
          pause.pause(backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new CliException(
              ExitCodes.INTERRUPTED, "interrupted while looking for the leading coordinator");
        }
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
      }
    }

    private CliException giveUp(Endpoint at, RuntimeException last) {
      if (!listed.isList() && last instanceof CliException single) {
        return single;
      }
      String why = last instanceof CliException c ? c.getMessage() : String.valueOf(last);
      return new CliException(
          ExitCodes.UNREACHABLE,
          "no coordinator at "
              + String.join(", ", order().stream().map(Address::toString).toList())
              + " led within "
              + DurationConverter.format(patience)
              + " (the last tried, "
              + at.address()
              + ": "
              + why
              + ")");
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

  /**
   * What a failed call at the address to try now means to the user: refused, unreachable or not a
   * coordinator as a {@link CliException}; any other status as it came (the error handler describes
   * it).
   */
  RuntimeException failure(StatusRuntimeException e) {
    return failure(current(), e);
  }

  private static RuntimeException failure(Endpoint at, StatusRuntimeException e) {
    if (isRefused(e.getStatus())) {
      return refused(at.address(), e.getStatus());
    }
    if (isUnreachable(e.getStatus())) {
      return unreachable(at, e.getStatus());
    }
    if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
      return notACoordinator(at.address(), e.getStatus());
    }
    return e;
  }

  /**
   * The connection to the coordinator at the address to try now broke after a call that must not be
   * repeated blindly was sent: it may have been acted on.
   */
  RuntimeException maybeActedOn(StatusRuntimeException e, String what) {
    return maybeActedOn(current(), e, what);
  }

  /**
   * As {@link #maybeActedOn(StatusRuntimeException, String)}, except that a rejected certificate or
   * TLS meeting plain text, which no call gets past, is said as such. (Plain text meeting TLS looks
   * like a connection that broke: the message gives both.)
   */
  private static RuntimeException maybeActedOn(Endpoint at, StatusRuntimeException e, String what) {
    Status status = e.getStatus();
    if (wouldRepeat(at, status)) {
      return failure(at, e);
    }
    ClientSecurity security = at.route.security();
    String why =
        security == null ? describe(status) : security.mismatch(status).orElse(describe(status));
    return new CliException(
        ExitCodes.UNREACHABLE,
        "the connection to the coordinator at "
            + at.address()
            + " broke after the job was sent ("
            + why
            + "): it may have been "
            + what
            + "; look for it with 'weft jobs' before submitting it again");
  }

  /** Something answers at the address, but not with our JobService (another server, a proxy). */
  private static CliException notACoordinator(Address address, Status status) {
    return new CliException(
        ExitCodes.UNREACHABLE,
        "no weft coordinator at "
            + address
            + ", something else answered ("
            + status.getDescription()
            + "); check --coordinator or WEFT_COORDINATOR");
  }

  static boolean isRefused(Status status) {
    return status.getCode() == Status.Code.UNAUTHENTICATED
        || status.getCode() == Status.Code.PERMISSION_DENIED;
  }

  /** No valid join token or client certificate: the coordinator says how to get one. */
  static CliException refused(Address address, Status status) {
    return new CliException(
        ExitCodes.REFUSED,
        "the coordinator at " + address + " refused the request: " + status.getDescription());
  }

  static boolean isUnreachable(Status status) {
    return status.getCode() == Status.Code.UNAVAILABLE
        || status.getCode() == Status.Code.DEADLINE_EXCEEDED;
  }

  /** What {@code status} means for the address to try now. */
  CliException unreachable(Status status) {
    return unreachable(current(), status);
  }

  private static CliException unreachable(Endpoint at, Status status) {
    Address address = at.address();
    Optional<CertificateRejectedException> certificate =
        CertificateRejectedException.in(status.getCause());
    if (certificate.isPresent()) {
      // Not a passing trouble: a token for another coordinator, or a name the certificate lacks.
      return new CliException(
          ExitCodes.REFUSED,
          "will not talk to the coordinator at " + address + ": " + certificate.get().getMessage());
    }
    Optional<String> mismatch =
        at.route.security() == null ? Optional.empty() : at.route.security().mismatch(status);
    if (mismatch.isPresent()) {
      return new CliException(
          ExitCodes.UNREACHABLE,
          "cannot talk to the coordinator at " + address + ": " + mismatch.get());
    }
    if (address.isUnix() && describe(status).contains("Permission denied")) {
      // The socket file's mode or a directory on its path keeps this user out (EACCES).
      return new CliException(
          ExitCodes.REFUSED,
          "may not connect to the coordinator's socket "
              + address.socket()
              + " (permission denied): it is its user's alone unless that user starts it with"
              + " --allow-uid "
              + thisUid()
              + ", and every directory on its path must let this user through");
    }
    String within = DurationConverter.format(UNARY_DEADLINE);
    String why;
    if (status.getCode() != Status.Code.DEADLINE_EXCEEDED) {
      why = describe(status);
    } else if (at.channel != null && at.channel.getState(false) == ConnectivityState.READY) {
      why = "connected, but it did not answer within " + within;
    } else {
      why = "no connection within " + within;
    }
    return new CliException(
        ExitCodes.UNREACHABLE,
        "cannot reach the coordinator at "
            + address
            + " ("
            + why
            + "); start one with 'weft coordinator' or point --coordinator or WEFT_COORDINATOR"
            + " at a running one");
  }

  private static String thisUid() {
    try {
      return Integer.toUnsignedString(dev.weft.coordinator.security.LocalDoor.uidOfThisProcess());
    } catch (java.io.IOException e) {
      return "UID";
    }
  }

  private static String describe(Status status) {
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
      all.forEach(
          endpoint -> {
            if (endpoint.channel != null) {
              endpoint.channel.shutdownNow();
            }
          });
      Thread.currentThread().interrupt();
    }
  }
}
