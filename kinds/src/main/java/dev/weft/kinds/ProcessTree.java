package dev.weft.kinds;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Stops an {@code exec} task's process and everything it started: SIGTERM now, SIGKILL to whatever
 * is left after the grace period. The only place that signals task processes, so moving to
 * process-group signals changes this class alone.
 *
 * <p>Descendants are found through {@link ProcessHandle#descendants()}, which loses a child whose
 * parent has already exited (it is re-parented); process groups will close that gap.
 */
final class ProcessTree {
  private final ProcessHandle root;
  private final AtomicBoolean terminating = new AtomicBoolean();

  ProcessTree(ProcessHandle root) {
    this.root = root;
  }

  /**
   * Sends SIGTERM to the tree and schedules SIGKILL after {@code graceMs}; only the first call
   * acts.
   */
  void terminate(long graceMs) {
    if (!terminating.compareAndSet(false, true)) {
      return;
    }
    // Snapshot first: once the root dies its children are re-parented and can no longer be found.
    List<ProcessHandle> tree = members();
    tree.forEach(ProcessHandle::destroy);
    CompletableFuture.delayedExecutor(Math.max(0, graceMs), TimeUnit.MILLISECONDS)
        .execute(() -> kill(tree));
  }

  private void kill(List<ProcessHandle> snapshot) {
    List<ProcessHandle> tree = new ArrayList<>(snapshot);
    tree.addAll(members());
    for (ProcessHandle process : tree) {
      if (process.isAlive()) {
        process.destroyForcibly();
      }
    }
  }

  private List<ProcessHandle> members() {
    List<ProcessHandle> members = new ArrayList<>();
    members.add(root);
    root.descendants().forEach(members::add);
    return members;
  }
}
