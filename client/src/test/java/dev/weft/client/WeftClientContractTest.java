package dev.weft.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.InProcessCluster;
import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobState;
import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client's contract against a real coordinator on the in-process transport, with a worker that
 * runs the real kinds: results, typed failures, events with back-pressure, cancels, many jobs over
 * one stream, a coordinator that goes away and comes back.
 */
final class WeftClientContractTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dataDir;
  private InProcessCluster cluster;
  private WeftClient client;

  @BeforeEach
  void start() throws Exception {
    cluster = InProcessCluster.start(dataDir, 4);
    client = InProcess.client(Duration.ofSeconds(30), cluster.name());
  }

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  private static BigInteger sumOf(long from, long to) {
    BigInteger n = BigInteger.valueOf(to - from + 1);
    return n.multiply(BigInteger.valueOf(from).add(BigInteger.valueOf(to))).divide(BigInteger.TWO);
  }

  private static Throwable failureOf(CompletableFuture<Job> result) throws Exception {
    ExecutionException e =
        assertThrows(
            ExecutionException.class, () -> result.get(WAIT.toSeconds(), TimeUnit.SECONDS));
    return e.getCause();
  }

  @Test
  void aSumJobsResultIsExact() throws Exception {
    JobHandle job = client.submit(Jobs.sum(1, 1_000_000_000).tasks(100).name("sum"));

    Job done = job.result().get(WAIT.toSeconds(), TimeUnit.SECONDS);

    assertEquals(JobState.SUCCEEDED, done.getState());
    assertEquals(job.id(), done.getId());
    assertEquals(sumOf(1, 1_000_000_000).toString(), done.getResult().getSum().getSum());
    assertEquals(100, done.getTasksTotal());
    assertEquals("sum", done.getSpec().getName());
  }

  @Test
  void aFailedExecTaskGivesItsExitCodeAndStderr() throws Exception {
    JobHandle job =
        client.submit(Jobs.exec("sh", "-c", "echo oops-{} >&2; exit 3").inputs("x").maxAttempts(1));

    JobFailedException failed = assertInstanceOf(JobFailedException.class, failureOf(job.result()));

    assertEquals(JobState.FAILED, failed.job().getState());
    assertEquals(3, failed.exitCode().orElseThrow());
    assertTrue(failed.stderr().orElseThrow().contains("oops-x"), failed.stderr().orElseThrow());
    assertEquals(1, failed.failures().size());
    assertTrue(failed.getMessage().startsWith("job " + job.id() + " failed"), failed.getMessage());
  }

  @Test
  void aSpecTheCoordinatorRefusesIsAnInvalidArgumentWithItsMessage() {
    InvalidArgumentException e =
        assertThrows(InvalidArgumentException.class, () -> client.submit(Jobs.sum(10, 1)));

    assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().contains("sum"), e.getMessage());
    assertEquals(cluster.name() + ":1", e.address());
  }

  @Test
  void anUnknownJobIsNotFound() {
    NotFoundException e = assertThrows(NotFoundException.class, () -> client.job("no-such-job"));
    assertTrue(e.getMessage().contains("no-such-job"), e.getMessage());
  }

  @Test
  void aCancelledJobsResultIsAJobCancelledException() throws Exception {
    JobHandle job = client.submit(Jobs.sleep(60_000).tasks(2));
    Await.until("its tasks to run", WAIT, () -> job.status().getTasksRunning() == 2);

    Job cancelling = job.cancel(Duration.ofSeconds(1));

    assertTrue(
        cancelling.getState() == JobState.CANCELLING || cancelling.getState() == JobState.CANCELLED,
        cancelling.getState().toString());
    JobCancelledException cancelled =
        assertInstanceOf(JobCancelledException.class, failureOf(job.result()));
    assertEquals(JobState.CANCELLED, cancelled.job().getState());
  }

  /** Takes events only as the test asks for them. */
  private static final class Recorder implements Flow.Subscriber<JobEvent> {
    final List<JobEvent> events = new CopyOnWriteArrayList<>();
    final CompletableFuture<Void> done = new CompletableFuture<>();
    final AtomicReference<Flow.Subscription> subscription = new AtomicReference<>();

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription.set(s);
    }

    @Override
    public void onNext(JobEvent event) {
      events.add(event);
    }

    @Override
    public void onError(Throwable t) {
      done.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      done.complete(null);
    }
  }

  @Test
  void eventsComeOnlyAsTheSubscriberAsksForThem() throws Exception {
    JobHandle job = client.submit(Jobs.sleep(200).tasks(4));
    Recorder recorder = new Recorder();
    job.events().subscribe(recorder);
    recorder.subscription.get().request(1);
    Await.until("the first event", WAIT, () -> recorder.events.size() == 1);

    job.result().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    // The job has ended, and the stream holds its events: none came without being asked for.
    assertEquals(1, recorder.events.size());
    assertTrue(recorder.events.getFirst().hasSnapshot(), "a snapshot first");
    assertTrue(!recorder.done.isDone(), "not complete before its last event is asked for");

    recorder.subscription.get().request(Long.MAX_VALUE);
    recorder.done.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    JobEvent last = recorder.events.getLast();
    assertTrue(last.hasFinished(), "the finishing event last: " + last);
    assertEquals(JobState.SUCCEEDED, last.getFinished().getState());
  }

  @Test
  void aCancelledSubscriptionEndsItsWatchButNotTheJob() throws Exception {
    JobHandle job = client.submit(Jobs.sleep(60_000).tasks(1));
    Recorder recorder = new Recorder();
    job.events().subscribe(recorder);
    recorder.subscription.get().request(1);
    Await.until("the first event", WAIT, () -> recorder.events.size() == 1);

    recorder.subscription.get().cancel();

    Await.until("the watch to end", WAIT, client::noWatches);
    assertTrue(!recorder.done.isDone(), "no onComplete or onError after a cancel");
    assertTrue(!Watch.isFinal(job.status().getState()), "the job runs on");
    job.cancel(Duration.ZERO);
  }

  @Test
  void manySmallJobsRunOverOneStream() throws Exception {
    List<Jobs.Simple> jobs = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      jobs.add(Jobs.sum(i, i + 1_000L).tasks(1));
    }
    jobs.add(100, Jobs.sum(5, 1)); // refused, and only it

    List<CompletableFuture<Job>> results = client.runAll(jobs);

    assertEquals(201, results.size());
    for (int i = 0; i < 201; i++) {
      if (i == 100) {
        assertInstanceOf(InvalidArgumentException.class, failureOf(results.get(i)));
        continue;
      }
      int from = i < 100 ? i : i - 1;
      Job done = results.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertEquals(sumOf(from, from + 1_000L).toString(), done.getResult().getSum().getSum());
    }
  }

  @Test
  void aStreamKeepsAtMostItsWindowUnfinished() throws Exception {
    try (JobStream stream = client.openStream(2)) {
      List<CompletableFuture<Job>> results = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        results.add(stream.submit(Jobs.sleep(50).tasks(1)));
        // A job unfinished at the coordinator is one the stream still waits for.
        int unfinished = client.jobs(0, JobState.QUEUED, JobState.RUNNING, JobState.WAITING).size();
        assertTrue(unfinished <= 2, unfinished + " unfinished");
      }
      for (CompletableFuture<Job> result : results) {
        assertEquals(JobState.SUCCEEDED, result.get(WAIT.toSeconds(), TimeUnit.SECONDS).getState());
      }
    }
  }

  @Test
  void aWatchOutlivesItsCoordinatorGoingAwayAndComingBack() throws Exception {
    JobHandle job = client.submit(Jobs.sleep(60_000).tasks(1));
    CompletableFuture<Job> result = job.result();
    Await.until("the task to run", WAIT, () -> job.status().getTasksRunning() == 1);
    String name = cluster.name();

    cluster.close();
    cluster = InProcessCluster.start(dataDir, 2, name);

    // The journal kept the job; cancelled now, its end reaches the watch begun before.
    Await.until(
        "the job back at the restarted coordinator",
        WAIT,
        () -> {
          try {
            return job.cancel(Duration.ZERO) != null;
          } catch (UnavailableException e) {
            return false;
          }
        });
    assertInstanceOf(JobCancelledException.class, failureOf(result));
  }
}
