package dev.weft.coordinator;

import dev.weft.v1.Heartbeat;
import dev.weft.v1.Hello;
import dev.weft.v1.WorkerInfo;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * One attached worker as the coordinator sees it: its link, its credit (how many more tasks it may
 * be given) and the attempts it holds. Conductor thread only.
 */
final class AttachedWorker {
  /** A task attempt outstanding on this worker, and the GPUs it was given. */
  record Attempt(JobRun job, int task, int attempt, long dispatchedNanos, int[] gpus) {}

  /**
   * Told when a slot is taken by a job's attempt and when the attempt leaves the worker, and when
   * the worker may have room for more (its credit grew, or it is back in service).
   */
  interface SlotUse {
    void taken(JobRun job);

    void returned(JobRun job);

    void mayTakeMore(AttachedWorker worker);
  }

  private final String id;
  private final Hello hello;
  private final Set<String> kinds;
  private WorkerLink link;
  private final long connectedMs;
  private final Map<Long, Attempt> inflight = new HashMap<>();
  private final Map<Long, Attempt> inflightView = java.util.Collections.unmodifiableMap(inflight);
  private int credit;
  private long tasksDone;
  private long lastSeenNanos;
  private boolean draining;
  private String drainedBecause; // non-null while an operator keeps it out of service
  private int stuck;
  // The worker's clock from its last answer to a beat, and when that arrived: our next beat echoes
  // them so the worker can time the round trip (zero: nothing to echo).
  private long echoSentNanos;
  private long echoArrivedNanos;
  private final WorkerCapacity capacity;
  private final SlotUse slotUse;
  private int nameIndex = WorkerNames.NONE; // its entry in the scheduler's WorkerNames
  private boolean detached;

  AttachedWorker(
      String id, Hello hello, WorkerLink link, long nowNanos, long nowMs, SlotUse slotUse) {
    this.id = id;
    this.capacity = new WorkerCapacity(hello);
    this.slotUse = slotUse;
    this.hello = hello;
    this.kinds = Set.copyOf(hello.getKindsList());
    this.link = link;
    this.connectedMs = nowMs;
    this.lastSeenNanos = nowNanos;
  }

  String id() {
    return id;
  }

  int nameIndex() {
    return nameIndex;
  }

  void nameIndex(int index) {
    this.nameIndex = index;
  }

  WorkerLink link() {
    return link;
  }

  /** Moves the worker to another link (the shared-memory link, or back from it). */
  void switchLink(WorkerLink next) {
    link = next;
  }

  /**
   * Takes back every outstanding attempt and all credit (the shared-memory link closed under them).
   */
  Map<Long, Attempt> withdrawAll() {
    Map<Long, Attempt> withdrawn = releaseAll();
    credit = 0;
    return withdrawn;
  }

  /** Takes back every outstanding attempt (the worker is gone), freeing what they held. */
  Map<Long, Attempt> releaseAll() {
    Map<Long, Attempt> released = new HashMap<>(inflight);
    inflight.clear();
    for (Attempt attempt : released.values()) {
      released(attempt);
    }
    return released;
  }

  private void released(Attempt attempt) {
    capacity.give(attempt.job().needs(), attempt.gpus());
    slotUse.returned(attempt.job());
  }

  WorkerCapacity capacity() {
    return capacity;
  }

  Hello hello() {
    return hello;
  }

  boolean runs(String kind) {
    return kinds.contains(kind);
  }

  int credit() {
    return draining || drainedBecause != null ? 0 : credit;
  }

  void addCredit(int slots) {
    credit += slots;
    if (slots > 0) {
      roomForMore();
    }
  }

  private void roomForMore() {
    if (!detached) {
      slotUse.mayTakeMore(this);
    }
  }

  /** Gone from the registry: it takes nothing more, whatever its credit says. */
  void detached() {
    detached = true;
  }

  boolean isDetached() {
    return detached;
  }

  void assign(long attemptId, Attempt attempt) {
    inflight.put(attemptId, attempt);
    credit--;
    slotUse.taken(attempt.job());
  }

  /** Removes a finished attempt and returns its slot; null for an attempt this worker lost. */
  Attempt complete(long attemptId) {
    Attempt attempt = inflight.remove(attemptId);
    if (attempt != null) {
      credit++;
      tasksDone++;
      released(attempt);
      roomForMore();
    }
    return attempt;
  }

  /** A stuck task keeps the slot its (cancelled) result would have returned. */
  void holdSlot() {
    credit--;
  }

  /** The outstanding attempts by id (read only: attempts leave through complete/releaseAll). */
  Map<Long, Attempt> inflight() {
    return inflightView;
  }

  void seen(long nowNanos) {
    lastSeenNanos = nowNanos;
  }

  long lastSeenNanos() {
    return lastSeenNanos;
  }

  /** The worker answered a beat with its clock reading {@code sentNanos}; we got it then. */
  void toEcho(long sentNanos, long arrivedNanos) {
    echoSentNanos = sentNanos;
    echoArrivedNanos = arrivedNanos;
  }

  /**
   * Adds to {@code beat} the worker's last clock reading, once, with how long we held it as of
   * {@code nowNanos}.
   */
  void echo(Heartbeat.Builder beat, long nowNanos) {
    if (echoSentNanos != 0) {
      beat.setEchoNanos(echoSentNanos).setHeldNanos(Math.max(0, nowNanos - echoArrivedNanos));
      echoSentNanos = 0;
    }
  }

  /** How many slots the worker says stuck tasks hold (its last heartbeat). */
  void stuck(int slots) {
    stuck = slots;
  }

  /** Out of service by an operator's drain ({@code reason} non-null) or back in it (null). */
  void drainedBecause(String reason) {
    drainedBecause = reason;
    if (reason == null) {
      roomForMore();
    }
  }

  void drain() {
    draining = true;
  }

  /** The worker's slots: tasks beyond them wait in its queue (its prefetch). */
  int slots() {
    return hello.getSlots();
  }

  int maxCredit() {
    return hello.getSlots() + 65_536;
  }

  WorkerInfo toProto() {
    return WorkerInfo.newBuilder()
        .setId(id)
        .setHost(hello.getHost().getHostname())
        .setPid(hello.getPid())
        .setSlots(hello.getSlots())
        .setBusy(inflight.size())
        .setTransport(link.transport().wireName())
        .addAllKinds(hello.getKindsList())
        .setTasksDone(tasksDone)
        .setConnectedUnixMs(connectedMs)
        .setState(draining ? "draining" : drainedBecause != null ? "drained" : "ready")
        .setDrainReason(drainedBecause == null ? "" : drainedBecause)
        .setStuck(stuck)
        .setResourcesTotal(capacity.total())
        .setResourcesFree(capacity.free())
        .putAllLabels(capacity.labels())
        .build();
  }
}
