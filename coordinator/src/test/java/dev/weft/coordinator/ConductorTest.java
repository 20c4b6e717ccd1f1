package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.Durations;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.StopOutcome;
import dev.weft.v1.SumParams;
import dev.weft.v1.TaskAssignment;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The coordinator's core driven by hand: a {@link Conductor} whose clocks the test sets, a {@link
 * Scheduler} on it, and links that record what they are sent. No sockets, no threads of the
 * conductor's own, no waiting: time passes when the test says so, and each {@code cycle()} is one
 * duty cycle.
 */
final class ConductorTest {
  private static final long HEARTBEAT_MS = CoreHarness.HEARTBEAT_MS;
  private static final long LEASE_MS = CoreHarness.LEASE_MS;

  private CoreHarness core;
  private Conductor conductor;
  private Scheduler scheduler;

  @BeforeEach
  void setUp() {
    core = new CoreHarness(config -> config);
    conductor = core.conductor;
    scheduler = core.scheduler;
  }

  @AfterEach
  void tearDown() {
    core.close();
  }

  private void cycle() {
    core.cycle();
  }

  private void advance(long ms) {
    core.advance(ms);
  }

  private Scheduler.Submission submit(JobSpec spec) {
    return core.submission(spec);
  }

  private static JobSpec sum(long to, int tasks) {
    return JobSpec.newBuilder()
        .setSum(SumParams.newBuilder().setFrom(1).setTo(to))
        .setTasks(tasks)
        .build();
  }

  /** Attaches a worker of {@code slots} slots that announced all of them as credit. */
  private CoreHarness.Link attach(String id, int slots) {
    return attach(id, slots, slots);
  }

  /**
   * Attaches a worker of {@code slots} slots that announced {@code credit} (with prefetch). It
   * beats only when a test says so: these tests are about leases.
   */
  private CoreHarness.Link attach(String id, int slots, int credit) {
    CoreHarness.Link link = core.attach(CoreHarness.hello(id, slots).build(), credit);
    link.beats = false;
    return link;
  }

  private void answer(CoreHarness.Link link, List<TaskAssignment> tasks) {
    core.succeed(link, tasks);
  }

  @Test
  void aWorkerSilentPastItsLeaseIsDetachedOnTime() {
    CoreHarness.Link link = attach("w1", 1);
    advance(LEASE_MS - HEARTBEAT_MS);
    assertNull(link.closedWith, "still within its lease");
    assertEquals(1, scheduler.workerCount());
    advance(2 * HEARTBEAT_MS);
    assertEquals("silent for more than its lease of 4000 ms", link.closedWith);
    assertEquals(0, scheduler.workerCount());
  }

  @Test
  void heartbeatsKeepAWorkerAttached() {
    CoreHarness.Link link = attach("w1", 1);
    for (int i = 0; i < 10; i++) {
      advance(HEARTBEAT_MS);
      scheduler.heartbeat(link.worker, dev.weft.v1.Heartbeat.getDefaultInstance());
    }
    assertNull(link.closedWith);
    assertTrue(link.sent.stream().filter(CoordinatorMessage::hasHeartbeat).count() >= 9);
  }

  @Test
  void tasksOfALostWorkerRunAgainElsewhereAndCountOnce() {
    Job job = submit(sum(100, 2)).job().toProto();
    CoreHarness.Link first = attach("w1", 2);
    List<TaskAssignment> lost = first.assignments();
    assertEquals(2, lost.size());
    advance(LEASE_MS + HEARTBEAT_MS);
    assertTrue(first.closedWith.startsWith("silent"), first.closedWith);

    CoreHarness.Link second = attach("w2", 2);
    List<TaskAssignment> retried = second.assignments();
    assertEquals(List.of(0, 1), retried.stream().map(TaskAssignment::getTask).sorted().toList());
    assertTrue(retried.stream().allMatch(t -> t.getAttempt() == 2), retried::toString);
    answer(second, retried);
    // The lost worker's late answers are dropped: it was detached, its attempts withdrawn.
    answer(first, lost);
    Job done = scheduler.get(job.getId());
    assertEquals(JobState.SUCCEEDED, done.getState(), done::toString);
    assertEquals("5050", done.getResult().getSum().getSum());
    assertEquals(4, done.getAttempts());
  }

  @Test
  void aJobTimesOutAfterItsTimeoutWithoutWaitingInRealTime() {
    JobSpec spec = sum(100, 2).toBuilder().setTimeout(Durations.fromSeconds(5)).build();
    String id = submit(spec).job().id();
    advance(4_900);
    assertEquals(JobState.QUEUED, scheduler.get(id).getState());
    advance(200);
    Job job = scheduler.get(id);
    assertEquals(JobState.FAILED, job.getState());
    assertEquals("timed out after 5 s", job.getError());
  }

  @Test
  void aCancelNobodyAnswersEndsAfterTheGraceAndALease() {
    String id = submit(sum(100, 1)).job().id();
    CoreHarness.Link link = attach("w1", 1);
    assertEquals(1, link.assignments().size());
    scheduler.cancel(id, "", 2_000);
    cycle();
    CoordinatorMessage cancel =
        link.sent.stream().filter(CoordinatorMessage::hasCancel).findFirst().orElseThrow();
    assertEquals(2_000, cancel.getCancel().getGraceMs());
    assertEquals(JobState.CANCELLING, scheduler.get(id).getState());
    // The worker keeps beating but never answers the cancel.
    for (long waited = 0; waited < 2_000 + LEASE_MS + 1_000; waited += HEARTBEAT_MS) {
      scheduler.heartbeat(link.worker, dev.weft.v1.Heartbeat.getDefaultInstance());
      advance(HEARTBEAT_MS);
    }
    assertEquals(JobState.CANCELLING, scheduler.get(id).getState(), "grace + lease not over yet");
    scheduler.heartbeat(link.worker, dev.weft.v1.Heartbeat.getDefaultInstance());
    advance(2 * HEARTBEAT_MS);
    Job job = scheduler.get(id);
    assertEquals(JobState.CANCELLED, job.getState());
    assertEquals(StopOutcome.NO_ANSWER, job.getStops(0).getOutcome());
    assertEquals(8_000, job.getStops(0).getStopMs(), 1_000.0);
  }

  @Test
  void freeSlotsGoToJobsInTurnAndLeaveInOneBatchPerCycle() {
    String a = submit(sum(100, 4)).job().id();
    String b = submit(sum(100, 4)).job().id();
    CoreHarness.Link link = attach("w1", 4);
    assertEquals(1, link.sent.stream().filter(CoordinatorMessage::hasAssignments).count());
    assertEquals(
        List.of(a, b, a, b), link.assignments().stream().map(TaskAssignment::getJobId).toList());
  }

  @Test
  void aLinkThatStopsTakingGetsNoTasksYetLosesItsLeaseOnTime() {
    submit(sum(1000, 10));
    CoreHarness.Link stuck = attach("w1", 1);
    assertEquals(1, stuck.assignments().size());
    stuck.writable = false;
    // Its result frees a slot, but its link takes nothing more.
    answer(stuck, stuck.assignments());
    assertEquals(1, stuck.assignments().size(), "no new task for a full link");
    CoreHarness.Link other = attach("w2", 1);
    assertEquals(1, other.assignments().size(), "the other worker is fed at once");
    for (int i = 0; i < 3; i++) {
      scheduler.heartbeat(other.worker, dev.weft.v1.Heartbeat.getDefaultInstance());
      advance(HEARTBEAT_MS);
    }
    scheduler.heartbeat(other.worker, dev.weft.v1.Heartbeat.getDefaultInstance());
    advance(2 * HEARTBEAT_MS);
    assertTrue(stuck.closedWith.startsWith("silent"), String.valueOf(stuck.closedWith));
    assertNull(other.closedWith);
  }

  @Test
  void aFullLinkThatDrainsIsFedAgain() {
    submit(sum(1000, 10));
    CoreHarness.Link link = attach("w1", 2);
    link.writable = false;
    answer(link, link.assignments());
    assertEquals(2, link.assignments().size());
    link.writable = true;
    link.becameWritable.run(); // as the link's writer does once it has room
    cycle();
    assertEquals(4, link.assignments().size());
  }

  @Test
  void onlyTasksSeenToBeShortQueueOnAWorkerBeyondItsSlots() {
    submit(sum(1000, 50));
    CoreHarness.Link link = attach("w1", 1, 3);
    assertEquals(1, link.worker.inflight().size(), "nothing known of the tasks yet: one per slot");
    advance(100);
    answer(link, link.assignments());
    assertEquals(1, link.worker.inflight().size(), "a 100 ms task is not queued behind another");
    // Quick answers bring the (smoothed) duration down until tasks queue behind the running one.
    for (int i = 0; i < 40 && link.worker.inflight().size() < 3; i++) {
      List<TaskAssignment> all = link.assignments();
      answer(link, List.of(all.getLast()));
    }
    assertEquals(3, link.worker.inflight().size(), "short tasks fill the slot and the prefetch");
  }

  @Test
  void aTaskShortByTheRunTimeItsWorkerReportsQueuesEvenWhenThePipelineIsSlow() {
    submit(sum(1000, 50));
    CoreHarness.Link link = attach("w1", 1, 3);
    assertEquals(1, link.worker.inflight().size(), "nothing known of the tasks yet: one per slot");
    advance(100); // a full pipeline: 100 ms from dispatch to result...
    core.succeed(link, List.of(link.oldest()), 40); // ...for a task that ran 40 µs
    assertEquals(3, link.worker.inflight().size(), "short by its run time: the prefetch is used");
  }

  @Test
  void commandsPostedFromOtherThreadsRunOnTheNextCycle() throws Exception {
    var answer = conductor.ask(() -> scheduler.workerCount());
    assertFalse(answer.isDone(), "nothing runs before the cycle");
    cycle();
    assertEquals(0, answer.get());
  }
}
