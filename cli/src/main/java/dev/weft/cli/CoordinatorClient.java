package dev.weft.cli;

import com.google.protobuf.util.Durations;
import dev.weft.client.PermissionDeniedException;
import dev.weft.client.Route;
import dev.weft.client.ToolConnection;
import dev.weft.client.UnauthenticatedException;
import dev.weft.client.UnavailableException;
import dev.weft.client.UntrustedCoordinatorException;
import dev.weft.client.WeftException;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.DrainWorkerRequest;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc.JobServiceBlockingStub;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.JobView;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListJobsResponse;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.ResumeWorkerRequest;
import dev.weft.v1.SetJobPriorityRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The JobService as the CLI uses it: the Java client's {@link ToolConnection} (every call with a
 * deadline; given several addresses, the leader found and followed; a call tried again only where a
 * repeat changes nothing), its failures said as the {@code weft} command says them: one {@link
 * CliException} naming the address, with the exit code of {@link ExitCodes}. An address is a TCP
 * port (TLS and a token, as its {@link Route} says) or a coordinator's Unix socket ({@code
 * unix:PATH}: plain text and no token; the coordinator knows the caller by its uid).
 */
final class CoordinatorClient implements AutoCloseable {
  static final Duration UNARY_DEADLINE = ToolConnection.UNARY_DEADLINE;

  /** How long a client looks for a leader (or waits for its one coordinator to come back). */
  static final Duration FOLLOW_PATIENCE = ToolConnection.FOLLOW_PATIENCE;

  private final ToolConnection connection;
  private final Duration patience;

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
    this.patience = patience;
    try {
      this.connection =
          ToolConnection.open(listed, routes, patience, "weft-cli/" + BuildInfo.version());
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage()); // a Unix socket without epoll
    }
  }

  /** The address the last call went to (or the next will): the leader as last found. */
  Address address() {
    return connection.address();
  }

  /**
   * Submits a job. Its request id lets a submission whose answer was lost go again to the leader;
   * with one coordinator there is no other to go to, and the user is told it may have been made.
   */
  Job submit(JobSpec spec) {
    SubmitJobRequest request =
        SubmitJobRequest.newBuilder().setSpec(spec).setRequestId(newRequestId()).build();
    return calling(() -> connection.submit(s -> s.submitJob(request)));
  }

  /** A key for one submission (SubmitJobRequest.request_id): sent again, it makes no second job. */
  static String newRequestId() {
    return UUID.randomUUID().toString();
  }

  /** Whether several coordinators were given: a call whose answer was lost may go to another. */
  boolean followsLeader() {
    return connection.followsLeader();
  }

  Job get(String id) {
    return calling(
        () -> connection.read(s -> s.getJob(GetJobRequest.newBuilder().setId(id).build())));
  }

  /** The newest jobs, as summaries unless {@code full}. */
  ListJobsResponse list(Collection<JobState> states, int limit, boolean full) {
    ListJobsRequest request =
        ListJobsRequest.newBuilder()
            .addAllStates(states)
            .setLimit(limit)
            .setView(full ? JobView.JOB_VIEW_FULL : JobView.JOB_VIEW_SUMMARY)
            .build();
    return calling(() -> connection.read(s -> s.listJobs(request)));
  }

  /** Cancels with the job's own grace period between SIGTERM and SIGKILL. */
  CancelJobResponse cancel(String id, String reason) {
    CancelJobRequest request = CancelJobRequest.newBuilder().setId(id).setReason(reason).build();
    return calling(() -> connection.change(s -> s.cancelJob(request)));
  }

  /** Cancels with {@code grace} between SIGTERM and SIGKILL instead of the job's own. */
  CancelJobResponse cancel(String id, String reason, Duration grace) {
    CancelJobRequest request =
        CancelJobRequest.newBuilder()
            .setId(id)
            .setReason(reason)
            .setGrace(Durations.fromNanos(grace.toNanos()))
            .build();
    return calling(() -> connection.change(s -> s.cancelJob(request)));
  }

  Job setPriority(String id, int priority) {
    SetJobPriorityRequest request =
        SetJobPriorityRequest.newBuilder().setId(id).setPriority(priority).build();
    return calling(() -> connection.change(s -> s.setJobPriority(request)));
  }

  List<WorkerInfo> workers() {
    return calling(
        () ->
            connection.read(
                s -> s.listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersList()));
  }

  WorkerInfo drainWorker(String id, String reason) {
    DrainWorkerRequest request =
        DrainWorkerRequest.newBuilder().setId(id).setReason(reason).build();
    return calling(() -> connection.change(s -> s.drainWorker(request)));
  }

  WorkerInfo resumeWorker(String id) {
    ResumeWorkerRequest request = ResumeWorkerRequest.newBuilder().setId(id).build();
    return calling(() -> connection.change(s -> s.resumeWorker(request)));
  }

  /**
   * A stub whose calls must end within {@code deadline}, for the address to try now; create one per
   * call, and say its failures with {@link #failure}. With nothing to talk to the only address
   * with, the CLI's "no token" failure at once.
   */
  JobServiceBlockingStub stub(Duration deadline) {
    return calling(
        () -> {
          connection.checkCredentials();
          return connection.stub(deadline);
        });
  }

  /** A watch of one job on this connection (for {@link JobWatcher}). */
  ToolConnection.JobWatch watch(Duration watchDeadline) {
    return connection.watch(watchDeadline);
  }

  /**
   * What a failed call of a {@link #stub} means to the user: refused, unreachable or not a
   * coordinator as a {@link CliException}; any other status as it came (the error handler describes
   * it).
   */
  RuntimeException failure(StatusRuntimeException e) {
    return said(connection.failure(e));
  }

  private <T> T calling(Supplier<T> call) {
    try {
      return call.get();
    } catch (WeftException e) {
      throw said(e);
    }
  }

  /** The client's failure as the {@code weft} command says it. */
  RuntimeException said(WeftException e) {
    String at = e.address();
    return switch (e) {
      case UnavailableException u -> unavailable(u);
      case UntrustedCoordinatorException u ->
          new CliException(ExitCodes.REFUSED, u.getMessage(), u);
      case UnauthenticatedException u -> refused(at, u);
      case PermissionDeniedException u -> refused(at, u);
      default ->
          e.getCause() instanceof StatusRuntimeException status
              ? status // the error handler describes it
              : new CliException(ExitCodes.forStatus(e.code()), e.getMessage(), e);
    };
  }

  /** No valid join token or client certificate: the coordinator says how to get one. */
  private static CliException refused(String address, WeftException e) {
    String description =
        e.getCause() instanceof StatusRuntimeException status
            ? status.getStatus().getDescription()
            : e.getMessage();
    return new CliException(
        ExitCodes.REFUSED,
        "the coordinator at " + address + " refused the request: " + description,
        e);
  }

  private CliException unavailable(UnavailableException e) {
    String at = e.address();
    return switch (e.reason()) {
      case UNREACHABLE ->
          new CliException(
              ExitCodes.UNREACHABLE,
              e.getMessage()
                  + "; start one with 'weft coordinator' or point --coordinator or"
                  + " WEFT_COORDINATOR at a running one",
              e);
      case NO_CREDENTIALS -> TlsClientOptions.noToken(Address.parseClient(at), false);
      case TLS_MISMATCH -> new CliException(ExitCodes.UNREACHABLE, e.getMessage(), e);
      case SOCKET_DENIED ->
          // The socket file's mode or a directory on its path keeps this user out (EACCES).
          new CliException(
              ExitCodes.REFUSED,
              "may not connect to the coordinator's socket "
                  + e.detail()
                  + " (permission denied): it is its user's alone unless that user starts it with"
                  + " --allow-uid "
                  + thisUid()
                  + ", and every directory on its path must let this user through",
              e);
      case NOT_A_COORDINATOR ->
          new CliException(
              ExitCodes.UNREACHABLE,
              e.getMessage() + "; check --coordinator or WEFT_COORDINATOR",
              e);
      case MAYBE_ACTED_ON ->
          new CliException(
              ExitCodes.UNREACHABLE,
              "the connection to the coordinator at "
                  + at
                  + " broke after the job was sent ("
                  + e.detail()
                  + "): it may have been submitted; look for it with 'weft jobs' before"
                  + " submitting it again",
              e);
      case NO_LEADER -> {
        RuntimeException last = e.getCause() instanceof WeftException cause ? said(cause) : e;
        String why = last instanceof CliException c ? c.getMessage() : String.valueOf(last);
        yield new CliException(
            ExitCodes.UNREACHABLE,
            "no coordinator at "
                + String.join(", ", e.tried())
                + " led within "
                + DurationConverter.format(patience)
                + " (the last tried, "
                + at
                + ": "
                + why
                + ")",
            e);
      }
      case INTERRUPTED -> new CliException(ExitCodes.INTERRUPTED, e.getMessage(), e);
    };
  }

  private static String thisUid() {
    try {
      return Integer.toUnsignedString(dev.weft.coordinator.security.LocalDoor.uidOfThisProcess());
    } catch (java.io.IOException e) {
      return "UID";
    }
  }

  @Override
  public void close() {
    connection.close();
  }
}
