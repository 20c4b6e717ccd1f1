package dev.weft.kinds;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A task context a test drives by hand: it can cancel, and wait until a task has registered or
 * checked for cancellation.
 */
final class TestContext implements TaskContext {
  private final long graceMs;
  private final TaskResources resources;
  private final List<Runnable> actions = new ArrayList<>();
  private final List<Integer> exits = new ArrayList<>();
  private final CountDownLatch registered = new CountDownLatch(1);
  private boolean cancelled;
  private long checks;

  TestContext(long graceMs, TaskResources resources) {
    this.graceMs = graceMs;
    this.resources = resources;
  }

  TestContext(long graceMs) {
    this(graceMs, TaskResources.NONE);
  }

  TestContext(TaskResources resources) {
    this(10_000, resources);
  }

  TestContext() {
    this(10_000);
  }

  @Override
  public synchronized boolean isCancelled() {
    checks++;
    return cancelled;
  }

  /**
   * Waits until the task has asked {@link #isCancelled()} at least {@code count} times: it is under
   * way, past that many checks.
   */
  boolean awaitChecks(long count, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (checks() < count) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(50));
    }
    return true;
  }

  private synchronized long checks() {
    return checks;
  }

  @Override
  public void onCancel(Runnable action) {
    boolean runNow;
    synchronized (this) {
      runNow = cancelled;
      if (!runNow) {
        actions.add(action);
      }
    }
    registered.countDown();
    if (runNow) {
      action.run();
    }
  }

  @Override
  public long graceMs() {
    return graceMs;
  }

  @Override
  public TaskResources resources() {
    return resources;
  }

  @Override
  public synchronized void processExited(int exitCode) {
    exits.add(exitCode);
  }

  /** The exit codes the task reported, in order: one for a task whose process exited. */
  synchronized List<Integer> exits() {
    return List.copyOf(exits);
  }

  void cancel() {
    List<Runnable> toRun;
    synchronized (this) {
      cancelled = true;
      toRun = List.copyOf(actions);
      actions.clear();
    }
    toRun.forEach(Runnable::run);
  }

  /** Waits until the task has registered a cancel action, which it does once it is under way. */
  boolean awaitRegistration(Duration timeout) throws InterruptedException {
    return registered.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }
}
