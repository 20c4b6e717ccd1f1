package dev.weft.client;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc.JobServiceBlockingStub;
import dev.weft.v1.JobSpec;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The connection {@link WeftClient} is built on, for a tool that words its own messages and makes
 * calls the public API does not cover (the {@code weft} command: task logs, dashboard logins,
 * bench). It follows the leader and retries as the client does, and throws the client's {@link
 * WeftException}s; {@link UnavailableException#reason()} lets the tool say them its own way.
 *
 * <p><b>For tools, not applications:</b> applications use {@link WeftClient}. This class may change
 * with weft's own tools, between any two releases.
 */
public final class ToolConnection implements AutoCloseable {
  /** The deadline of every unary call. */
  public static final Duration UNARY_DEADLINE = Connection.UNARY_DEADLINE;

  /** How long a call looks for a leader (or waits for its one coordinator) unless told. */
  public static final Duration FOLLOW_PATIENCE = Connection.FOLLOW_PATIENCE;

  /** The deadline of one WatchJob or RunJob stream; a watch starts a new one after it. */
  public static final Duration WATCH_DEADLINE = Watch.WATCH_DEADLINE;

  private final Connection connection;

  private ToolConnection(Connection connection) {
    this.connection = connection;
  }

  /**
   * Opens channels lazily to {@code listed}.
   *
   * @param routes how to reach each address (those listed, and leaders standbys name), asked again
   *     after a failure there: a local coordinator's token or socket may have appeared
   * @param patience how long to look for a leader before giving up ({@link #FOLLOW_PATIENCE})
   * @param userAgent what the channels say they are, {@code NAME/VERSION}
   * @throws IllegalArgumentException for a Unix socket where Linux's epoll is not available
   */
  public static ToolConnection open(
      Addresses listed, Function<Address, Route> routes, Duration patience, String userAgent) {
    Dialer.checkUnixSockets(listed.first());
    return new ToolConnection(new Connection(listed, routes, patience, Dialer.netty(), userAgent));
  }

  /** The address the last call went to (or the next will): the leader as last found. */
  public Address address() {
    return connection.address();
  }

  /** Whether several coordinators were given: a call whose answer was lost may go to another. */
  public boolean followsLeader() {
    return connection.followsLeader();
  }

  /**
   * Throws an {@link UnavailableException} of reason {@code NO_CREDENTIALS} now when there is
   * nothing to talk to the only address with (no token given or found for it).
   */
  public void checkCredentials() {
    connection.checkCredentials();
  }

  /**
   * A raw stub for the address to try now, its calls ending within {@code deadline}: for calls the
   * public API does not cover. It neither follows the leader nor retries; {@link #failure} says
   * what its failures mean. Make one per call.
   */
  public JobServiceBlockingStub stub(Duration deadline) {
    return connection.stub(deadline);
  }

  /** What a failed call of a {@link #stub} means, as the client says it. */
  public WeftException failure(StatusRuntimeException e) {
    return connection.failure(e);
  }

  /** A read: tried again (at the leader) after any UNAVAILABLE, as repeating it changes nothing. */
  public <T> T read(Function<JobServiceBlockingStub, T> rpc) {
    return connection.read(rpc);
  }

  /** A change: tried again only where it was not acted on (refused, or a standby's answer). */
  public <T> T change(Function<JobServiceBlockingStub, T> rpc) {
    return connection.change(rpc);
  }

  /**
   * A submission that carries a request id: with several coordinators, sent again to the leader
   * after any UNAVAILABLE; with one, a connection that broke after it was sent is an {@link
   * UnavailableException} of reason {@code MAYBE_ACTED_ON}.
   */
  public <T> T submit(Function<JobServiceBlockingStub, T> rpc) {
    return connection.submit(rpc);
  }

  /** A new watch of one job, its streams {@code watchDeadline} long ({@link #WATCH_DEADLINE}). */
  public JobWatch watch(Duration watchDeadline) {
    return new JobWatch(new Watch(connection, watchDeadline, false));
  }

  /** Hears every event of a watched job, on the watching thread. */
  public interface Listener {
    void event(JobEvent event) throws InterruptedException;
  }

  /**
   * Follows one job until it finishes, on the calling thread, starting again at the leader when a
   * stream breaks (as {@link JobHandle#result()} does).
   */
  public static final class JobWatch {
    private final Watch watch;

    private JobWatch(Watch watch) {
      this.watch = watch;
    }

    /**
     * Submits {@code spec} with {@code requestId} and follows the job in one RunJob call (SubmitJob
     * and WatchJob with a coordinator that has none); {@code accepted} hears the job once the
     * coordinator has it. A {@link #stop} before that takes effect once the job is accepted.
     *
     * @throws CancellationException once {@link #stop} was called
     */
    public Job run(JobSpec spec, String requestId, Consumer<Job> accepted, Listener listener)
        throws InterruptedException {
      return watch.run(spec, requestId, accepted, listener::event);
    }

    /**
     * Returns job {@code id} once it has finished.
     *
     * @throws CancellationException once {@link #stop} was called
     */
    public Job await(String id, Listener listener) throws InterruptedException {
      return watch.await(id, listener::event);
    }

    /** Stops watching, from any thread. */
    public void stop() {
      watch.stop();
    }
  }

  /** Closes the channels; calls still on them are let finish for a few seconds. */
  @Override
  public void close() {
    connection.close();
  }
}
