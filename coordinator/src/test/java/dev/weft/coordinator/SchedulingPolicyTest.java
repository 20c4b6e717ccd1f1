package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.LabelRequirement;
import dev.weft.v1.NoopParams;
import dev.weft.v1.Resources;
import dev.weft.v1.TaskAssignment;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Who gets a free slot: fair share by owner and weight, strict priority classes, preemption, and
 * placement by resources and labels. The core runs on a hand-set clock; workers answer when the
 * test says so, one attempt at a time, so every freed slot is one decision to check.
 */
final class SchedulingPolicyTest {
  private CoreHarness core = new CoreHarness(config -> config);

  @AfterEach
  void tearDown() {
    core.close();
  }

  private static JobSpec noop(String owner, int tasks) {
    return JobSpec.newBuilder()
        .setNoop(NoopParams.getDefaultInstance())
        .setTasks(tasks)
        .setOwner(owner)
        .build();
  }

  /**
   * Answers the oldest running attempt {@code steps} times (each answer frees one slot, which the
   * dispatcher gives at once) and counts, after each, the slots each key holds.
   */
  private Map<String, Long> slotTime(
      CoreHarness.Link link, int steps, java.util.function.Function<TaskAssignment, String> key) {
    Map<String, Long> held = new HashMap<>();
    for (int i = 0; i < steps; i++) {
      core.succeed(link, List.of(link.oldest()));
      for (TaskAssignment task : link.running.values()) {
        held.merge(key.apply(task), 1L, Long::sum);
      }
    }
    return held;
  }

  private String ownerOf(TaskAssignment task) {
    return core.scheduler.get(task.getJobId()).getSpec().getOwner();
  }

  @Test
  void twoOwnersShareTheSlotsEvenlyWhateverTheirNumbersOfJobs() {
    for (int i = 0; i < 10; i++) {
      core.submit(noop("alice", 10_000));
    }
    core.submit(noop("bob", 10_000));
    CoreHarness.Link link = core.attach("w1", 8);
    Map<String, Long> held = slotTime(link, 4_000, this::ownerOf);
    double alice = held.get("alice") / (double) (held.get("alice") + held.get("bob"));
    assertEquals(0.5, alice, 0.05, held::toString);
  }

  @Test
  void jobsOfOneOwnerShareByWeight() {
    String a = core.submit(noop("alice", 10_000).toBuilder().setWeight(1).build());
    String b = core.submit(noop("alice", 10_000).toBuilder().setWeight(1).build());
    String c = core.submit(noop("alice", 10_000).toBuilder().setWeight(2).build());
    CoreHarness.Link link = core.attach("w1", 8);
    Map<String, Long> held = slotTime(link, 4_000, TaskAssignment::getJobId);
    double total = held.values().stream().mapToLong(Long::longValue).sum();
    assertEquals(0.25, held.get(a) / total, 0.05, held::toString);
    assertEquals(0.25, held.get(b) / total, 0.05, held::toString);
    assertEquals(0.50, held.get(c) / total, 0.05, held::toString);
  }

  @Test
  void ownerWeightsScaleTheirShares() {
    core.close();
    core = new CoreHarness(config -> config.ownerWeights(Map.of("alice", 3.0)));
    core.submit(noop("alice", 10_000));
    core.submit(noop("bob", 10_000));
    CoreHarness.Link link = core.attach("w1", 8);
    Map<String, Long> held = slotTime(link, 4_000, this::ownerOf);
    double alice = held.get("alice") / (double) (held.get("alice") + held.get("bob"));
    assertEquals(0.75, alice, 0.05, held::toString);
  }

  @Test
  void aHigherClassIsServedBeforeAnyLowerOne() {
    String low = core.submit(noop("alice", 100));
    String high = core.submit(noop("bob", 20).toBuilder().setPriority(5).build());
    String middle = core.submit(noop("carol", 20).toBuilder().setPriority(1).build());
    CoreHarness.Link link = core.attach("w1", 4);
    List<String> order = new java.util.ArrayList<>();
    link.running.values().forEach(t -> order.add(t.getJobId()));
    for (int i = 0; i < 60; i++) {
      core.succeed(link, List.of(link.oldest()));
      order.add(link.assignments().getLast().getJobId());
    }
    // Every task of the high class went out before any of the middle one, and those before the low.
    int lastHigh = order.lastIndexOf(high);
    int firstMiddle = order.indexOf(middle);
    int lastMiddle = order.lastIndexOf(middle);
    int firstLow = order.indexOf(low);
    assertEquals(20, order.stream().filter(high::equals).count());
    assertTrue(lastHigh < firstMiddle && lastMiddle < firstLow, order::toString);
  }

  @Test
  void anAdminMovesAQueuedJobAheadAndItsRecordSaysSo() {
    String first = core.submit(noop("alice", 50));
    String second = core.submit(noop("alice", 50));
    CoreHarness.Link link = core.attach("w1", 2);
    Job moved = core.scheduler.setPriority(second, 7);
    assertEquals(7, moved.getSpec().getPriority());
    for (int i = 0; i < 10; i++) {
      core.succeed(link, List.of(link.oldest()));
      assertEquals(second, link.assignments().getLast().getJobId());
    }
    core.scheduler.cancel(first, "", 0);
    core.cycle();
    StatusRuntimeException ended =
        assertThrows(StatusRuntimeException.class, () -> core.scheduler.setPriority(first, 1));
    assertEquals(Status.Code.FAILED_PRECONDITION, ended.getStatus().getCode());
  }

  @Test
  void preemptionStopsTheLowestClassFirstAndNeverAnEqualOrHigherOne() {
    core.close();
    core = new CoreHarness(config -> config.preemptAfterMs(1_000));
    String low = core.submit(noop("alice", 1));
    String middle = core.submit(noop("alice", 1).toBuilder().setPriority(5).build());
    String equal = core.submit(noop("bob", 2).toBuilder().setPriority(10).build());
    CoreHarness.Link link = core.attach("w1", 4);
    assertEquals(4, link.running.size());
    String urgent = core.submit(noop("carol", 3).toBuilder().setPriority(10).build());
    core.advance(900);
    assertTrue(link.cancelled().isEmpty(), "not waited long enough yet");
    core.advance(400);
    List<Long> stopped = link.cancelled();
    Map<Long, String> jobOf = new HashMap<>();
    link.running.forEach((id, task) -> jobOf.put(id, task.getJobId()));
    assertEquals(
        Set.of(low, middle),
        new HashSet<>(stopped.stream().map(jobOf::get).toList()),
        "both lower-class attempts, none of the equal class");
    // No second round while the stops are on their way.
    core.advance(3_000);
    assertEquals(2, link.cancelled().size());

    core.stopped(link, stopped);
    List<String> next =
        link.assignments().subList(4, 6).stream().map(TaskAssignment::getJobId).toList();
    assertEquals(List.of(urgent, urgent), next);
    Job lowJob = core.scheduler.get(low);
    assertEquals(1, lowJob.getPreemptions());
    assertEquals(0, lowJob.getAttempts(), "a preempted attempt costs nothing");
    assertEquals(JobState.RUNNING, lowJob.getState());
    assertNotEquals(0, core.scheduler.get(equal).getTasksRunning());
  }

  @Test
  void preemptedTasksRunAgainAtNoCostOnceTheUrgentJobIsDone() {
    core.close();
    core = new CoreHarness(config -> config.preemptAfterMs(500));
    String low = core.submit(noop("alice", 2));
    CoreHarness.Link link = core.attach("w1", 2);
    String urgent = core.submit(noop("bob", 2).toBuilder().setPriority(3).build());
    core.advance(1_000);
    core.stopped(link, link.cancelled());
    core.succeed(link, List.copyOf(link.running.values()));
    assertEquals(JobState.SUCCEEDED, core.scheduler.get(urgent).getState());
    core.succeed(link, List.copyOf(link.running.values()));
    Job done = core.scheduler.get(low);
    assertEquals(JobState.SUCCEEDED, done.getState(), done::toString);
    assertEquals(2, done.getAttempts());
    assertEquals(2, done.getPreemptions());
  }

  private static dev.weft.v1.Hello.Builder sized(String id, int slots, long memBytes) {
    return CoreHarness.hello(id, slots)
        .setResources(Resources.newBuilder().setCpuMillis(slots * 1000L).setMemBytes(memBytes));
  }

  @Test
  void tasksGoOnlyWhereTheirMemoryFitsAndNoMoreThanFits() {
    CoreHarness.Link big = core.attach(sized("big", 8, 4L << 30).build(), 8);
    CoreHarness.Link small = core.attach(sized("small", 8, 1L << 30).build(), 8);
    String id =
        core.submit(
            noop("alice", 6).toBuilder()
                .setResources(Resources.newBuilder().setMemBytes(2L << 30))
                .build());
    assertEquals(2, big.running.size(), "4 GiB holds two tasks of 2 GiB");
    assertTrue(small.assignments().isEmpty());
    assertEquals(
        "the one worker it fits is busy (no free slot with mem=2.0 GiB free)",
        core.scheduler.get(id).getWaitingReason());
    core.succeed(big, List.copyOf(big.running.values()));
    assertEquals(2, big.running.size());
    assertEquals(
        Resources.newBuilder().setCpuMillis(8000).setMemBytes(0).build(),
        big.worker.toProto().getResourcesFree());
  }

  @Test
  void gpusAreGivenByIndexAndNeverShared() {
    CoreHarness.Link link =
        core.attach(
            CoreHarness.hello("g", 4).setResources(Resources.newBuilder().setGpus(2)).build(), 4);
    core.submit(
        noop("alice", 3).toBuilder().setResources(Resources.newBuilder().setGpus(1)).build());
    List<TaskAssignment> out = List.copyOf(link.running.values());
    assertEquals(2, out.size());
    assertEquals(Set.of(0, 1), Set.of(out.get(0).getGpus(0), out.get(1).getGpus(0)), out::toString);
    core.succeed(link, List.of(out.get(1)));
    TaskAssignment third = link.assignments().getLast();
    assertEquals(List.of(out.get(1).getGpus(0)), third.getGpusList());
  }

  @Test
  void labelsChooseTheWorkerAndAStrictJobThatFitsNoneIsRefused() {
    CoreHarness.Link a = core.attach(CoreHarness.hello("a", 2).putLabels("zone", "a").build(), 2);
    CoreHarness.Link b = core.attach(CoreHarness.hello("b", 2).putLabels("zone", "b").build(), 2);
    core.submit(
        noop("alice", 2).toBuilder()
            .addRequires(LabelRequirement.newBuilder().setKey("zone").setValue("b"))
            .build());
    assertEquals(2, b.running.size());
    assertTrue(a.assignments().isEmpty());
    core.submit(
        noop("alice", 2).toBuilder()
            .addRequires(
                LabelRequirement.newBuilder().setKey("zone").setValue("b").setNotEqual(true))
            .build());
    assertEquals(2, a.running.size());

    JobSpec nowhere =
        noop("alice", 1).toBuilder()
            .addRequires(LabelRequirement.newBuilder().setKey("zone").setValue("c"))
            .build();
    String waiting = core.submit(nowhere);
    assertEquals(
        "no attached worker has the labels zone=c; its tasks wait until one attaches",
        core.scheduler.get(waiting).getWaitingReason());
    StatusRuntimeException refused =
        assertThrows(
            StatusRuntimeException.class,
            () -> core.submit(nowhere.toBuilder().setStrict(true).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
    assertTrue(
        refused.getStatus().getDescription().startsWith("no attached worker has the labels zone=c"),
        refused.getStatus().getDescription());
    assertFalse(core.scheduler.get(waiting).getWaitingReason().isEmpty());
  }
}
