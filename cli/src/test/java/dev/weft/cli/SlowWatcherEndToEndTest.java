package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobEvent;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobState;
import dev.weft.v1.WatchJobRequest;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Watchers that never read cost the coordinator a bounded outbox each: with a heap far too small to
 * buffer one event per task, a job of a million tasks runs to its end while two watchers of it sit
 * still, and the one that asked for task events is told it fell behind.
 */
final class SlowWatcherEndToEndTest {
  private static final int TASKS = 1_000_000;
  // A million task events held for a watcher would not fit; the job itself does, easily.
  private static final String SMALL_HEAP = "-Xmx128m";

  private ProcessCluster cluster;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow();
      channel.awaitTermination(10, TimeUnit.SECONDS);
    }
    cluster.close();
  }

  /** A WatchJob call that takes its first event and then reads nothing more. */
  private static final class StalledWatch extends ClientCall.Listener<JobEvent> {
    final AtomicInteger received = new AtomicInteger();
    final CompletableFuture<Status> closed = new CompletableFuture<>();
    final ClientCall<WatchJobRequest, JobEvent> call;

    StalledWatch(ManagedChannel channel, String id, boolean tasks) {
      call = channel.newCall(JobServiceGrpc.getWatchJobMethod(), CallOptions.DEFAULT);
      call.start(this, new Metadata());
      call.request(1);
      call.sendMessage(WatchJobRequest.newBuilder().setId(id).setIncludeTasks(tasks).build());
      call.halfClose();
    }

    @Override
    public void onMessage(JobEvent event) {
      received.incrementAndGet();
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      closed.complete(status);
    }

    /** Reads everything that waited, to the end of the stream. */
    Status drain() throws Exception {
      call.request(Integer.MAX_VALUE);
      return closed.get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void watchersThatNeverReadDoNotHoldTheCoordinatorsMemory() throws Exception {
    cluster.startCoordinator(Map.of("JAVA_TOOL_OPTIONS", SMALL_HEAP), 0);
    cluster.startWorker("w1", 2);
    cluster.startWorker("w2", 2);
    cluster.awaitWorkers(2);
    channel = cluster.channelBuilder().build();
    // Queued behind a job that holds every slot, so both watchers are in place before it runs.
    String blocker =
        cluster.client("submit", "sleep", "--ms", "2000", "--tasks", "4", "--json").job().getId();
    String id =
        cluster.client("submit", "noop", "--tasks", String.valueOf(TASKS), "--json").job().getId();
    StalledWatch tasks = new StalledWatch(channel, id, true);
    StalledWatch progress = new StalledWatch(channel, id, false);

    Job done = cluster.awaitEnd(id, Duration.ofSeconds(300));
    assertEquals(JobState.SUCCEEDED, done.getState(), done::toString);
    assertEquals(TASKS, done.getTasksDone());
    assertEquals(JobState.SUCCEEDED, cluster.awaitEnd(blocker, Duration.ofSeconds(30)).getState());
    assertTrue(cluster.coordinatorProcess().isAlive(), cluster::logTails);

    Status tasksEnd = tasks.drain();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, tasksEnd.getCode(), tasksEnd::toString);
    assertTrue(tasksEnd.getDescription().contains("fell 4096 events behind"), tasksEnd::toString);
    Status progressEnd = progress.drain();
    assertEquals(Status.Code.OK, progressEnd.getCode(), progressEnd::toString);
    // Its progress was coalesced: far fewer events than tasks, ending with the finished job.
    assertTrue(progress.received.get() < 10_000, "events: " + progress.received.get());
  }
}
