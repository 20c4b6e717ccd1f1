package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.posix.ProcessStat;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.SumParams;
import dev.weft.v1.WorkerInfo;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker that stops reading must cost only itself: here a local pipe worker is stopped with
 * SIGSTOP and then handed more than its pipe holds. The coordinator keeps answering, the worker
 * loses its lease on time, its tasks finish on another worker, and when it runs again its late
 * results count for nothing.
 */
final class StoppedWorkerEndToEndTest {
  private static final int TASKS = 400;
  private static final int PAYLOAD_BYTES = 256 * 1024;
  // What a user waits for an answer from a coordinator with a stopped worker.
  private static final long ANSWER_DEADLINE_MS = 1_000;

  private ProcessCluster cluster;
  private ManagedChannel channel;
  private long stopped = -1;

  @BeforeEach
  void start() throws Exception {
    cluster = new ProcessCluster();
  }

  @AfterEach
  void stop() throws Exception {
    if (stopped > 0) {
      ProcessHandle.of(stopped).ifPresent(p -> TaskProcesses.signal(stopped, "CONT"));
    }
    if (channel != null) {
      channel.shutdownNow();
      channel.awaitTermination(10, TimeUnit.SECONDS);
    }
    cluster.close();
  }

  @Test
  void aStoppedPipeWorkerWithAFullPipeCostsOnlyItself() throws Exception {
    cluster.startCoordinator(
        0, "--local-workers", "1", "--local-transport", "pipe", "--local-slots", "1");
    cluster.awaitWorkers(1);
    WorkerInfo local = cluster.workers().getFirst();
    stopped = local.getPid();
    channel = cluster.channelBuilder().build();
    JobServiceGrpc.JobServiceBlockingStub jobs = JobServiceGrpc.newBlockingStub(channel);
    // Warm the channel and the coordinator's handlers before anything is timed.
    jobs.withDeadlineAfter(30, TimeUnit.SECONDS).listJobs(ListJobsRequest.getDefaultInstance());

    TaskProcesses.signal(stopped, "STOP");
    Await.until(
        "the local worker to stop",
        Duration.ofSeconds(10),
        () -> ProcessStat.of(stopped).map(p -> p.state() == 'T').orElse(false));
    String id =
        cluster
            .client(
                "submit",
                "noop",
                "--tasks",
                String.valueOf(TASKS),
                "--payload",
                String.valueOf(PAYLOAD_BYTES),
                "--json")
            .job()
            .getId();
    // Its credit is small, but the assignments it got are more than its pipe holds.
    Await.until(
        "the stopped worker to be handed tasks",
        Duration.ofSeconds(20),
        () -> cluster.busy(local.getId()) > 0,
        cluster::logTails);

    for (int i = 0; i < 5; i++) {
      long began = System.nanoTime();
      jobs.withDeadlineAfter(ANSWER_DEADLINE_MS, TimeUnit.MILLISECONDS)
          .listJobs(ListJobsRequest.getDefaultInstance());
      jobs.withDeadlineAfter(ANSWER_DEADLINE_MS, TimeUnit.MILLISECONDS)
          .listWorkers(ListWorkersRequest.getDefaultInstance());
      Job small =
          jobs.withDeadlineAfter(ANSWER_DEADLINE_MS, TimeUnit.MILLISECONDS)
              .submitJob(
                  SubmitJobRequest.newBuilder()
                      .setSpec(
                          JobSpec.newBuilder()
                              .setSum(SumParams.newBuilder().setFrom(1).setTo(10))
                              .setTasks(1))
                      .build());
      long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
      assertTrue(tookMs < 3 * ANSWER_DEADLINE_MS, "three calls took " + tookMs + " ms");
      assertTrue(small.getId().startsWith("j"), small::toString);
    }

    // Its lease (4 s) runs out although the coordinator's writer to it is stuck.
    Await.until(
        "the stopped worker to lose its lease",
        Duration.ofSeconds(15),
        () -> cluster.workers().stream().noneMatch(w -> w.getPid() == stopped),
        cluster::logTails);
    cluster.startWorker("w2", 2);
    Job done = cluster.awaitEnd(id, Duration.ofSeconds(120));
    // Running again, the stopped worker reads what waited in its pipe; nothing of it may count.
    TaskProcesses.signal(stopped, "CONT");
    assertEquals(JobState.SUCCEEDED, done.getState(), done::toString);
    assertEquals(TASKS, done.getTasksDone());
    assertEquals(TASKS, done.getResult().getCount().getTasks());
    assertEquals((long) TASKS * PAYLOAD_BYTES, done.getResult().getCount().getBytes());
    // It ran what waited in its pipe and answered; told to leave (its stdin closed) or reclaimed
    // with SIGTERM, it is gone: whatever it answered has been handled by now.
    Await.until(
        "the formerly stopped worker to exit",
        Duration.ofSeconds(30),
        () -> ProcessHandle.of(stopped).map(p -> !p.isAlive()).orElse(true),
        cluster::logTails);
    Job later = cluster.client("status", id, "--json").job();
    assertEquals(done.getTasksDone(), later.getTasksDone());
    assertEquals(done.getResult(), later.getResult());
  }
}
