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
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The JobService as the CLI uses it: every call carries a deadline, and "cannot reach the
 * coordinator" becomes one clear {@link CliException} naming the address. The address is a TCP port
 * (TLS and a token, as {@code security} says) or a coordinator's Unix socket ({@code unix:PATH}:
 * plain text and no token; the coordinator knows the caller by its uid).
 */
final class CoordinatorClient implements AutoCloseable {
  static final Duration UNARY_DEADLINE = Duration.ofSeconds(10);
  private static final int MAX_INBOUND_BYTES = 64 * 1024 * 1024;

  private final Address address;
  private final ClientSecurity security;
  private final ManagedChannel channel;
  // The socket channel's event loop; null over TCP (gRPC's shared one).
  private final EventLoopGroup socketLoop;

  /** In plain text: a coordinator on loopback (the demo's). */
  CoordinatorClient(Address address) {
    this(address, new ClientSecurity().conclude());
  }

  CoordinatorClient(Address address, ClientSecurity security) {
    this.address = address;
    this.security = address.isUnix() ? new ClientSecurity().conclude() : security;
    ManagedChannelBuilder<?> builder;
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
          Grpc.newChannelBuilderForAddress(address.host(), address.port(), security.credentials());
      if (security.serverName() != null) {
        builder.overrideAuthority(security.serverName());
      }
    }
    this.channel =
        builder
            .maxInboundMessageSize(MAX_INBOUND_BYTES)
            .userAgent("weft-cli/" + BuildInfo.version())
            .build();
  }

  Address address() {
    return address;
  }

  Job submit(JobSpec spec) {
    return call(s -> s.submitJob(SubmitJobRequest.newBuilder().setSpec(spec).build()));
  }

  Job get(String id) {
    return call(s -> s.getJob(GetJobRequest.newBuilder().setId(id).build()));
  }

  /** The newest jobs, as summaries unless {@code full}. */
  ListJobsResponse list(Collection<JobState> states, int limit, boolean full) {
    ListJobsRequest request =
        ListJobsRequest.newBuilder()
            .addAllStates(states)
            .setLimit(limit)
            .setView(full ? JobView.JOB_VIEW_FULL : JobView.JOB_VIEW_SUMMARY)
            .build();
    return call(s -> s.listJobs(request));
  }

  /** Cancels with the job's own grace period between SIGTERM and SIGKILL. */
  CancelJobResponse cancel(String id, String reason) {
    return call(
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
    return call(s -> s.cancelJob(request));
  }

  Job setPriority(String id, int priority) {
    return call(
        s ->
            s.setJobPriority(
                dev.weft.v1.SetJobPriorityRequest.newBuilder()
                    .setId(id)
                    .setPriority(priority)
                    .build()));
  }

  List<WorkerInfo> workers() {
    return call(s -> s.listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersList());
  }

  WorkerInfo drainWorker(String id, String reason) {
    return call(
        s -> s.drainWorker(DrainWorkerRequest.newBuilder().setId(id).setReason(reason).build()));
  }

  WorkerInfo resumeWorker(String id) {
    return call(s -> s.resumeWorker(ResumeWorkerRequest.newBuilder().setId(id).build()));
  }

  /** A stub whose calls must end within {@code deadline}; create one per call. */
  JobServiceBlockingStub stub(Duration deadline) {
    return JobServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  boolean isConnected() {
    return channel.getState(false) == ConnectivityState.READY;
  }

  private <T> T call(Function<JobServiceBlockingStub, T> rpc) {
    try {
      return rpc.apply(stub(UNARY_DEADLINE));
    } catch (StatusRuntimeException e) {
      throw failure(e);
    }
  }

  /**
   * What a failed call means to the user: refused, unreachable or not a coordinator as a {@link
   * CliException}; any other status as it came (the error handler describes it).
   */
  RuntimeException failure(StatusRuntimeException e) {
    if (isRefused(e.getStatus())) {
      return refused(e.getStatus());
    }
    if (isUnreachable(e.getStatus())) {
      return unreachable(e.getStatus());
    }
    if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
      return notACoordinator(e.getStatus());
    }
    return e;
  }

  /** Something answers at the address, but not with our JobService (another server, a proxy). */
  private CliException notACoordinator(Status status) {
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
  CliException refused(Status status) {
    return new CliException(
        ExitCodes.REFUSED,
        "the coordinator at " + address + " refused the request: " + status.getDescription());
  }

  static boolean isUnreachable(Status status) {
    return status.getCode() == Status.Code.UNAVAILABLE
        || status.getCode() == Status.Code.DEADLINE_EXCEEDED;
  }

  CliException unreachable(Status status) {
    Optional<CertificateRejectedException> certificate =
        CertificateRejectedException.in(status.getCause());
    if (certificate.isPresent()) {
      // Not a passing trouble: a token for another coordinator, or a name the certificate lacks.
      return new CliException(
          ExitCodes.REFUSED,
          "will not talk to the coordinator at " + address + ": " + certificate.get().getMessage());
    }
    Optional<String> mismatch = security.mismatch(status);
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
    } else if (isConnected()) {
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
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
        channel.shutdownNow();
      }
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
    if (socketLoop != null) {
      socketLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}
