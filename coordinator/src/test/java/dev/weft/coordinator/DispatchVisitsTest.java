package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weft.v1.JobSpec;
import dev.weft.v1.NoopParams;
import dev.weft.v1.TaskAssignment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a result costs the dispatcher does not grow with the workers attached: it visits the workers
 * whose credit grew, not the fleet. Leases and heartbeats still go to every worker, once per
 * heartbeat interval. On the hand-set clock of {@link CoreHarness}.
 */
final class DispatchVisitsTest {
  private static final int WORKERS = 1_000;
  private static final int SLOTS = 4;

  @Test
  void aResultVisitsOnlyTheWorkerThatAnsweredItAndLeasesVisitEveryWorkerOncePerInterval() {
    try (CoreHarness core = new CoreHarness(config -> config)) {
      core.submit(
          JobSpec.newBuilder()
              .setNoop(NoopParams.getDefaultInstance())
              .setTasks(WORKERS * SLOTS * 10)
              .build());
      List<CoreHarness.Link> links = new ArrayList<>();
      for (int w = 0; w < WORKERS; w++) {
        CoreHarness.Link link = core.attach(CoreHarness.hello("w" + w, SLOTS).build(), SLOTS);
        assertEquals(SLOTS, link.running.size(), "every slot of w" + w + " filled on attach");
        links.add(link);
      }
      assertEquals(0, core.scheduler.workersWithRoom(), "no worker has room left");
      links.forEach(link -> link.writableAsked = 0);

      CoreHarness.Link answering = links.get(WORKERS / 2);
      for (int round = 0; round < 100; round++) {
        TaskAssignment task = answering.oldest();
        answering.succeed(task);
        assertEquals(SLOTS, answering.running.size(), "its slot filled again");
      }
      assertEquals(
          100, answering.writableAsked, "one visit per result to the worker that answered");
      int othersAsked = 0;
      for (CoreHarness.Link link : links) {
        if (link != answering) {
          othersAsked += link.writableAsked;
        }
      }
      assertEquals(0, othersAsked, "no visit to any other worker");

      // Leases: one beat to each worker per interval, whatever the task rate.
      links.forEach(link -> link.sent.clear());
      core.advance(CoreHarness.HEARTBEAT_MS);
      for (CoreHarness.Link link : links) {
        long beats = link.sent.stream().filter(m -> m.hasHeartbeat()).count();
        assertEquals(1, beats, "one beat per interval to " + link.worker.id());
        assertEquals(null, link.closedWith, "no lease lost while beating");
      }
    }
  }

  @Test
  void aWorkerBackInServiceOrWithNewCreditIsVisitedAgain() {
    try (CoreHarness core = new CoreHarness(config -> config)) {
      CoreHarness.Link idle = core.attach("idle", 2);
      assertEquals(
          1, core.scheduler.workersWithRoom(), "an idle worker with credit waits for work");
      core.submit(
          JobSpec.newBuilder().setNoop(NoopParams.getDefaultInstance()).setTasks(6).build());
      assertEquals(2, idle.running.size(), "its credit filled once work came");
      assertEquals(0, core.scheduler.workersWithRoom());
      idle.succeed(idle.oldest());
      assertEquals(2, idle.running.size(), "the slot its result freed filled again");
      core.scheduler.drainWorker("idle", "");
      idle.succeed(idle.oldest());
      core.cycle();
      assertEquals(1, idle.running.size(), "a drained worker takes nothing");
      assertEquals(0, core.scheduler.workersWithRoom(), "nor is it visited");
      core.scheduler.resumeWorker("idle");
      core.cycle();
      assertEquals(2, idle.running.size(), "back in service, its free slot filled");
      while (!idle.running.isEmpty()) {
        idle.succeed(idle.oldest());
      }
      assertEquals(6, idle.assignments().size(), "every task ran once");
    }
  }

  @Test
  void workersThatNoJobFitsAreParkedAndVisitedAgainOnlyWhenTheJobsChangeOrLeasesAreChecked() {
    try (CoreHarness core = new CoreHarness(config -> config)) {
      core.submit(
          JobSpec.newBuilder().setNoop(NoopParams.getDefaultInstance()).setTasks(10_000).build());
      List<CoreHarness.Link> links = new ArrayList<>();
      for (int w = 0; w < 100; w++) {
        // One slot and two tasks of prefetch: how long the tasks take is not known yet, so they
        // do not queue beyond the slot, and the two credits left fit no job.
        links.add(core.attach(CoreHarness.hello("w" + w, 1).build(), 3));
      }
      links.forEach(link -> assertEquals(1, link.running.size()));
      assertEquals(100, core.scheduler.workersParked(), "all wait for the jobs to change");
      links.forEach(link -> link.writableAsked = 0);

      CoreHarness.Link answering = links.get(7);
      for (int round = 0; round < 20; round++) {
        core.advance(30); // longer than a short task: the job's tasks never queue
        answering.succeed(answering.oldest());
        assertEquals(1, answering.running.size(), "its slot filled again");
      }
      assertEquals(20, answering.writableAsked, "visited once per result it sent");
      for (CoreHarness.Link link : links) {
        if (link != answering) {
          assertEquals(0, link.writableAsked, "a parked worker is not visited per task");
        }
      }

      // A new job may fit them: each is visited once, and parked again (it does not fit either).
      core.submit(
          JobSpec.newBuilder().setNoop(NoopParams.getDefaultInstance()).setTasks(10).build());
      for (CoreHarness.Link link : links) {
        if (link != answering) {
          assertEquals(1, link.writableAsked, "visited once when a job joined the queue");
        }
      }

      // The lease check visits each once more, whatever it waits for.
      core.advance(CoreHarness.HEARTBEAT_MS);
      for (CoreHarness.Link link : links) {
        if (link != answering) {
          assertEquals(2, link.writableAsked, "visited once more at the lease check");
        }
      }
    }
  }
}
