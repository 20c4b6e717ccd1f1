package dev.weft.kinds;

import com.google.common.util.concurrent.Uninterruptibles;
import dev.weft.posix.ProcessStat;
import dev.weft.posix.Signals;
import dev.weft.v1.StopOutcome;
import java.io.IOException;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A running exec task: the process group its leader leads. The task's process group is the task:
 * signals go to the whole group, and nothing of it outlives {@link #close()}.
 *
 * <p>Signals go to the group only once its id is known to be the leader's pid; before that the
 * leader is still in the worker's own group.
 *
 * <p>A member is a process of the group that is not a zombie: where init does not reap orphans
 * (some containers), a task's dead grandchildren stay zombies for ever.
 *
 * <p>Where the task also has a cgroup of its own ({@link TaskCgroup}), its processes that left the
 * group (setsid) are members too: signals reach them one by one, and SIGKILL goes to the whole
 * cgroup through cgroup.kill.
 */
final class ProcessGroup implements AutoCloseable {
  /** How long the launch may take to reach setsid, and how often to look meanwhile. */
  private static final long GROUP_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(5);

  private static final long GROUP_POLL_NS = TimeUnit.MICROSECONDS.toNanos(200);

  /** How long a group may take to vanish after SIGKILL before it is reported stuck. */
  static final long KILL_WAIT_MS = 5_000;

  /** How a cancelled group ended. */
  record Stop(StopOutcome outcome, String detail) {}

  private final Process leader;
  private final long pgid;
  private final TaskProcessGroups.Registration registration;
  private final TaskCgroup cgroup; // null: the group alone contains the task

  // Guarded by this: whether SIGTERM went out (and when), and whether the group was let go.
  private boolean terminated;
  private long termSentNanos;
  private boolean closed;

  private ProcessGroup(
      Process leader, TaskProcessGroups.Registration registration, TaskCgroup cgroup) {
    this.leader = leader;
    this.pgid = leader.pid();
    this.registration = registration;
    this.cgroup = cgroup;
  }

  /**
   * Starts {@code builder}'s command, whose first words are a {@link GroupLauncher}'s, waits until
   * the leader leads its own group, and records the group in {@code registry}. With a {@code
   * cgroup} (null for none) the command must start inside it ({@link TaskCgroup#enter}); the group
   * owns it from here and removes it on {@link #close()}.
   *
   * @throws IOException if it cannot start, or did not get a group of its own (it is killed then)
   */
  static ProcessGroup start(ProcessBuilder builder, TaskProcessGroups registry, TaskCgroup cgroup)
      throws IOException {
    Process leader;
    try {
      leader = spawn(builder);
    } catch (IOException | RuntimeException | Error e) {
      if (cgroup != null) {
        cgroup.close();
      }
      throw e;
    }
    try {
      awaitOwnGroup(leader);
    } catch (IOException | RuntimeException | Error e) {
      // Not known to lead a group of its own: kill the one process, never a group.
      leader.destroyForcibly();
      if (cgroup != null) {
        cgroup.close();
      }
      throw e;
    }
    try {
      TaskProcessGroups.Registration registration =
          ProcessStat.of(leader.pid())
              .filter(stat -> stat.processGroup() == leader.pid())
              .map(stat -> registry.register(stat.pid(), stat.startTicks()))
              .orElse(TaskProcessGroups.Registration.NONE);
      return new ProcessGroup(leader, registration, cgroup);
    } catch (RuntimeException | Error e) {
      Signals.killProcessGroup(leader.pid(), Signals.SIGKILL);
      leader.destroyForcibly();
      if (cgroup != null) {
        cgroup.close();
      }
      throw e;
    }
  }

  /**
   * The kernel sends pdeathsig when the thread that forked the leader ends. A virtual thread's
   * carrier can end while the task runs, so from a virtual thread the leader is forked by a
   * platform thread that stays until the leader exits.
   */
  private static Process spawn(ProcessBuilder builder) throws IOException {
    if (!Thread.currentThread().isVirtual()) {
      return builder.start();
    }
    CompletableFuture<Process> started = new CompletableFuture<>();
    Thread.ofPlatform()
        .daemon(true)
        .name("weft-exec-parent")
        .start(
            () -> {
              Process process;
              try {
                process = builder.start();
              } catch (IOException | RuntimeException e) {
                started.completeExceptionally(e);
                return;
              }
              started.complete(process);
              process.onExit().join();
            });
    try {
      // Uninterruptible: an interrupt here would lose a process that is already running.
      return Uninterruptibles.getUninterruptibly(started);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new IllegalStateException("starting the task failed", e.getCause());
    }
  }

  /**
   * setsid runs after the exec that {@link ProcessBuilder#start()} waits for, so the leader gets
   * its own group a moment after it starts.
   */
  private static void awaitOwnGroup(Process leader) throws IOException {
    long deadline = System.nanoTime() + GROUP_TIMEOUT_NS;
    while (true) {
      OptionalLong group = Signals.processGroupOf(leader.pid());
      if (group.isPresent() && group.getAsLong() == leader.pid()) {
        return;
      }
      if (group.isEmpty() || !leader.isAlive()) {
        // It ended before it was seen in its group: either it never got one (the launch failed,
        // as its exit code and stderr will say) or it ran and left at most zombies.
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IOException(
            "it did not get a process group of its own within "
                + TimeUnit.NANOSECONDS.toMillis(GROUP_TIMEOUT_NS)
                + " ms (it is in group "
                + group.getAsLong()
                + ")");
      }
      Uninterruptibles.sleepUninterruptibly(GROUP_POLL_NS, TimeUnit.NANOSECONDS);
    }
  }

  Process leader() {
    return leader;
  }

  long pgid() {
    return pgid;
  }

  /**
   * SIGCONT and SIGTERM to the group, once; later calls and calls after {@link #close()} do
   * nothing. Quick and safe from any thread, such as a task context's cancel action.
   */
  synchronized void terminate() {
    if (terminated || closed) {
      return;
    }
    terminated = true;
    termSentNanos = System.nanoTime();
    // A stopped member keeps SIGTERM pending until continued: continue the group so it can act.
    Signals.killProcessGroup(pgid, Signals.SIGCONT);
    Signals.killProcessGroup(pgid, Signals.SIGTERM);
    if (cgroup != null) {
      cgroup.signalOutside(pgid, Signals.SIGCONT);
      cgroup.signalOutside(pgid, Signals.SIGTERM);
    }
  }

  /**
   * Terminates the group (if not yet), gives it until {@code graceMs} after the SIGTERM to end,
   * then SIGKILLs what is left and waits up to {@link #KILL_WAIT_MS} for it to go.
   *
   * <p>Takes at most the grace period plus the kill wait, and is not cut short by an interrupt (the
   * interrupt status is kept): a stop is already what an interrupt asks for.
   */
  Stop stop(long graceMs) {
    terminate();
    long termSent;
    synchronized (this) {
      termSent = termSentNanos;
    }
    long grace = TimeUnit.MILLISECONDS.toNanos(Math.max(0, graceMs));
    if (awaitGone(termSent + grace)) {
      return new Stop(
          StopOutcome.EXITED_ON_TERM, "exited on SIGTERM after " + millisSince(termSent) + " ms");
    }
    killAll();
    if (awaitGone(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(KILL_WAIT_MS))) {
      return new Stop(
          StopOutcome.KILLED,
          "killed with SIGKILL after the " + Math.max(0, graceMs) + " ms grace period");
    }
    return new Stop(
        StopOutcome.STUCK,
        "still running "
            + KILL_WAIT_MS
            + " ms after SIGKILL, which followed the "
            + Math.max(0, graceMs)
            + " ms grace period (uninterruptible sleep?)");
  }

  /**
   * After the leader exited: SIGKILLs what it left running in its group and waits (bounded) for it
   * to go. True if anything was left.
   */
  boolean killLeftovers() {
    if (!hasMembers()) {
      return false;
    }
    killAll();
    awaitGone(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(KILL_WAIT_MS));
    return true;
  }

  /** SIGKILLs any member still there and forgets the group: no signal goes to it after this. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    try {
      if (hasMembers()) {
        killAll();
      }
    } finally {
      registration.close();
      if (cgroup != null) {
        cgroup.close();
      }
    }
  }

  private void killAll() {
    Signals.killProcessGroup(pgid, Signals.SIGKILL);
    if (cgroup != null) {
      cgroup.kill();
    }
  }

  /** True while a process of the group (or of the task's cgroup) other than a zombie exists. */
  boolean hasMembers() {
    return (Signals.killProcessGroup(pgid, 0) != Signals.Result.NO_SUCH_PROCESS
            && !ProcessStat.liveMembersOf(pgid).isEmpty())
        || (cgroup != null && cgroup.populated());
  }

  /** Waits until the group has no members or {@code deadlineNanos} passes; false if it did. */
  private boolean awaitGone(long deadlineNanos) {
    // While the leader runs the group exists; its exit is an event to wait for, not to poll.
    try {
      Uninterruptibles.getUninterruptibly(
          leader.onExit(), Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      throw new IllegalStateException("waiting for the task's exit failed", e.getCause());
    }
    return Polls.awaitGone(this::hasMembers, deadlineNanos);
  }

  private static long millisSince(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
  }
}
