package dev.weft.client;

import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.CancelJobResponse;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.JobView;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Address;
import dev.weft.wire.Addresses;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A connection to a weft coordinator, or to the leader of several that share a journal: submit
 * jobs, follow them, cancel them. Thread-safe; close it when done (closing ends the client's
 * watches, not the jobs).
 *
 * <pre>{@code
 * try (WeftClient weft = WeftClient.connect("127.0.0.1:7070", Credentials.found())) {
 *   JobHandle job = weft.submit(Jobs.sum(1, 1_000_000_000).tasks(100));
 *   System.out.println(job.result().join().getResult().getSummary());
 * }
 * }</pre>
 *
 * <p>Every call has a deadline (10 s for a unary call). Given several addresses, the client follows
 * the leader: a standby answers UNAVAILABLE naming the leader, and the call goes there; a refused
 * connection moves on to the next address; for up to 30 s before an {@link UnavailableException}.
 * Each submission carries a random request id, so one whose answer was lost is sent again to the
 * leader without making a second job. Watches ({@link JobHandle#result()}, {@link
 * JobHandle#events()}) run on virtual threads of the client and start again after the coordinator
 * goes away, as long as one comes back within that patience.
 */
public final class WeftClient implements AutoCloseable {
  private final Connection connection;
  private final ExecutorService background =
      Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("weft-client-", 0).factory());
  private final Set<Watch> watches = ConcurrentHashMap.newKeySet();

  private WeftClient(Connection connection) {
    this.connection = connection;
  }

  /**
   * Connects to the coordinator the {@code weft} command would talk to: {@code $WEFT_COORDINATOR},
   * else the config file's {@code coordinator}, else {@code 127.0.0.1:7070}, with {@link
   * Credentials#found()}.
   */
  public static WeftClient connect() {
    return connect(
        Credentials.foundAddress(System.getenv(), System.getProperties()), Credentials.found());
  }

  /**
   * Connects to {@code addresses}: {@code HOST:PORT}, several separated by commas ({@code
   * a:7070,b:7070}, coordinators sharing one journal, whose leader is followed), or a coordinator's
   * Unix socket {@code unix:PATH} (which knows the caller by its uid and needs no token). Channels
   * open lazily; a single address with nothing to talk with (no token given or found) fails here.
   *
   * @throws IllegalArgumentException for an address that is not one
   * @throws UnavailableException with reason {@code NO_CREDENTIALS} when nothing would be sent
   */
  public static WeftClient connect(String addresses, Credentials credentials) {
    Objects.requireNonNull(credentials, "credentials");
    Addresses parsed = Addresses.parse(Objects.requireNonNull(addresses, "addresses"), true);
    Dialer.checkUnixSockets(parsed.first());
    LocalRegistry registry = LocalRegistry.ofThisUser();
    return open(
        parsed,
        address -> credentials.route(address, registry),
        Dialer.netty(),
        Connection.FOLLOW_PATIENCE);
  }

  /** With routes and channels of the caller's choosing (tests: the in-process transport). */
  static WeftClient open(
      Addresses addresses, Function<Address, Route> routes, Dialer dialer, Duration patience) {
    Connection connection =
        new Connection(addresses, routes, patience, dialer, "weft-java-client/" + version());
    try {
      connection.checkCredentials();
    } catch (RuntimeException e) {
      connection.close();
      throw e;
    }
    return new WeftClient(connection);
  }

  private static String version() {
    String version = WeftClient.class.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }

  /** As {@link #submit(JobSpec)}, for a job built with {@link Jobs}. */
  public JobHandle submit(JobBuilder<?> job) {
    return submit(job.spec());
  }

  /**
   * Submits a job and returns once the coordinator has it (durably). Carries a random request id:
   * with several coordinators, a submission whose answer was lost goes again to the leader, which
   * answers with the job the first one made; with one, a connection that broke after the job was
   * sent ends in an {@link UnavailableException} of reason {@code MAYBE_ACTED_ON}.
   *
   * @throws InvalidArgumentException when the coordinator refuses the spec, with its message
   * @throws PermissionDeniedException when the caller may not submit it (an exec job without the
   *     grant, say)
   */
  public JobHandle submit(JobSpec spec) {
    SubmitJobRequest request =
        SubmitJobRequest.newBuilder()
            .setSpec(spec)
            .setRequestId(UUID.randomUUID().toString())
            .build();
    return new JobHandle(this, connection.submit(s -> s.submitJob(request)));
  }

  /**
   * A handle on a job submitted before (by this program or another).
   *
   * @throws NotFoundException when the coordinator has no such job
   */
  public JobHandle job(String id) {
    return new JobHandle(this, get(id));
  }

  /** The job as it is now. */
  public Job get(String id) {
    return connection.read(s -> s.getJob(GetJobRequest.newBuilder().setId(id).build()));
  }

  /**
   * The newest jobs, newest first, at most {@code limit} (0: 100), only those in {@code states}
   * (none given: all); summaries, without the bulky parts of their specs and results.
   */
  public List<Job> jobs(int limit, JobState... states) {
    ListJobsRequest request =
        ListJobsRequest.newBuilder()
            .addAllStates(List.of(states))
            .setLimit(limit)
            .setView(JobView.JOB_VIEW_SUMMARY)
            .build();
    return connection.read(s -> s.listJobs(request)).getJobsList();
  }

  /** The workers attached now. */
  public List<WorkerInfo> workers() {
    return connection.read(
        s -> s.listWorkers(ListWorkersRequest.getDefaultInstance()).getWorkersList());
  }

  /**
   * Cancels a job, giving its running tasks {@code grace} between SIGTERM and SIGKILL (null: the
   * job's own); {@code cancelled} in the answer is false when it had finished already.
   */
  public CancelJobResponse cancel(String id, Duration grace) {
    CancelJobRequest.Builder request = CancelJobRequest.newBuilder().setId(id);
    if (grace != null) {
      request.setGrace(JobBuilder.proto(grace));
    }
    return connection.change(s -> s.cancelJob(request.build()));
  }

  /**
   * A stream for many jobs over one RunJobs call, at most {@code window} of them unfinished at once
   * (1..65536).
   */
  public JobStream openStream(int window) {
    return new JobStream(this, connection, window);
  }

  /**
   * Runs {@code jobs} over one RunJobs stream, at most 1024 unfinished at once: returns once every
   * job was sent, with one future per job, in order, completing as {@link JobHandle#result()} does.
   */
  public List<CompletableFuture<Job>> runAll(List<? extends JobBuilder<?>> jobs)
      throws InterruptedException {
    List<CompletableFuture<Job>> results = new ArrayList<>(jobs.size());
    try (JobStream stream = openStream(1024)) {
      for (JobBuilder<?> job : jobs) {
        results.add(stream.submit(job));
      }
    }
    return results;
  }

  /** The coordinator the client talks to now: the leader, as last found. */
  public String address() {
    return connection.address().toString();
  }

  /** Stops the client's watches (their futures fail with a CancellationException) and closes. */
  @Override
  public void close() {
    watches.forEach(Watch::stop);
    background.shutdownNow();
    try {
      if (!background.awaitTermination(10, TimeUnit.SECONDS)) {
        System.getLogger(WeftClient.class.getName())
            .log(System.Logger.Level.WARNING, "weft client: watches still running after 10s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      connection.close();
    }
  }

  // --- for JobHandle and JobStream ---

  /** Whether no watch of this client runs (tests). */
  boolean noWatches() {
    return watches.isEmpty();
  }

  /** Runs {@code work} on a virtual thread of the client (never on a transport thread). */
  void background(Runnable work) {
    try {
      background.execute(work);
    } catch (RejectedExecutionException e) {
      // The client closed meanwhile; what the work would have completed is cancelled by close.
    }
  }

  CompletableFuture<Job> watchResult(String id) {
    CompletableFuture<Job> result = new CompletableFuture<>();
    watchInto(id, result);
    return result;
  }

  /** Watches job {@code id} to its end and settles {@code result} with it. */
  void watchInto(String id, CompletableFuture<Job> result) {
    Watch watch = new Watch(connection, Watch.WATCH_DEADLINE, false);
    watches.add(watch);
    Runnable body =
        () -> {
          try {
            settle(result, watch.await(id, event -> {}));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            result.completeExceptionally(new CancellationException("the client was closed"));
          } catch (RuntimeException e) {
            result.completeExceptionally(e);
          } finally {
            watches.remove(watch);
          }
        };
    try {
      background.execute(body);
    } catch (RejectedExecutionException e) {
      watches.remove(watch);
      result.completeExceptionally(new CancellationException("the client was closed"));
    }
  }

  /** Completes {@code result} as a finished job's state says. */
  static void settle(CompletableFuture<Job> result, Job job) {
    switch (job.getState()) {
      case SUCCEEDED -> result.complete(job);
      case FAILED -> result.completeExceptionally(new JobFailedException(job));
      case CANCELLED -> result.completeExceptionally(new JobCancelledException(job));
      default ->
          result.completeExceptionally(
              new IllegalStateException("job " + job.getId() + " ended " + job.getState()));
    }
  }

  Flow.Publisher<JobEvent> events(String id, boolean includeTasks) {
    return subscriber -> {
      Objects.requireNonNull(subscriber, "subscriber");
      Watch watch = new Watch(connection, Watch.WATCH_DEADLINE, includeTasks);
      EventSubscription subscription = new EventSubscription(subscriber, watch);
      subscriber.onSubscribe(subscription);
      watches.add(watch);
      try {
        background.execute(
            () -> {
              try {
                subscription.run(id);
              } finally {
                watches.remove(watch);
              }
            });
      } catch (RejectedExecutionException e) {
        watches.remove(watch);
        subscriber.onError(new CancellationException("the client was closed"));
      }
    };
  }
}
