package dev.weft.coordinator;

import dev.weft.v1.Hello;
import dev.weft.v1.WorkerInfo;
import dev.weft.wire.Transport;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The attached workers by id, and the ids an operator drained (kept when such a worker attaches
 * again). Conductor thread only.
 */
final class WorkerRegistry {
  private final Map<String, AttachedWorker> workers = new LinkedHashMap<>();
  private final Map<String, String> drained = new HashMap<>();

  /** The worker attached under {@code id}, or null. */
  AttachedWorker get(String id) {
    return workers.get(id);
  }

  /** The worker attached under {@code id}, or NOT_FOUND saying where to look. */
  AttachedWorker find(String id) {
    AttachedWorker worker = workers.get(id);
    if (worker == null) {
      throw Status.NOT_FOUND
          .withDescription(
              "no worker with id '" + id + "' is attached (see `weft workers` for those that are)")
          .asRuntimeException();
    }
    return worker;
  }

  /**
   * The id a worker saying {@code hello} gets: its own, or with a suffix when another process
   * already uses it (both keep working, under distinct names).
   */
  String freeIdFor(Hello hello) {
    String id = hello.getWorkerId();
    if (!workers.containsKey(id)) {
      return id;
    }
    int suffix = 2;
    while (workers.containsKey(id + "-" + suffix)) {
      suffix++;
    }
    return id + "-" + suffix;
  }

  void add(AttachedWorker worker) {
    worker.drainedBecause(drained.get(worker.id()));
    workers.put(worker.id(), worker);
  }

  void remove(AttachedWorker worker) {
    workers.remove(worker.id(), worker);
  }

  boolean isAttached(AttachedWorker worker) {
    return workers.get(worker.id()) == worker;
  }

  Collection<AttachedWorker> all() {
    return workers.values();
  }

  /** A copy, for loops that detach as they go. */
  List<AttachedWorker> snapshot() {
    return new ArrayList<>(workers.values());
  }

  int size() {
    return workers.size();
  }

  boolean anyOn(Transport transport) {
    for (AttachedWorker worker : workers.values()) {
      if (worker.link().transport() == transport) {
        return true;
      }
    }
    return false;
  }

  /** True when the process behind {@code hello} is attached (again). */
  boolean hasProcess(Hello hello) {
    for (AttachedWorker worker : workers.values()) {
      if (isSameProcess(worker.hello(), hello)) {
        return true;
      }
    }
    return false;
  }

  static boolean isSameProcess(Hello a, Hello b) {
    return a.getPid() == b.getPid()
        && a.getProcessStartTicks() == b.getProcessStartTicks()
        && a.getHost().getHostname().equals(b.getHost().getHostname())
        && a.getHost().getBootId().equals(b.getHost().getBootId());
  }

  /** Keeps worker {@code id} out of service, now and when it attaches again. */
  void drain(AttachedWorker worker, String why) {
    drained.put(worker.id(), why);
    worker.drainedBecause(why);
  }

  /** Puts a drained worker back in service; false when it was not drained. */
  boolean resume(AttachedWorker worker) {
    if (drained.remove(worker.id()) == null) {
      return false;
    }
    worker.drainedBecause(null);
    return true;
  }

  List<WorkerInfo> list() {
    List<WorkerInfo> out = new ArrayList<>();
    for (AttachedWorker worker : workers.values()) {
      out.add(worker.toProto());
    }
    out.sort(Comparator.comparing(WorkerInfo::getId));
    return out;
  }
}
