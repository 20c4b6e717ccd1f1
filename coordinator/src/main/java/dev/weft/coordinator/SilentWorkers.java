package dev.weft.coordinator;

import dev.weft.local.HostIdentity;
import dev.weft.posix.ProcessStat;
import dev.weft.posix.Signals;
import dev.weft.v1.Hello;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Reclaims a worker on this host that stopped answering (hung, stopped with SIGSTOP, wedged in a
 * system call): SIGTERM so it drains, then SIGKILL after the grace period. Its tasks have already
 * gone back to the queue; this frees the slots and memory it holds, and its supervisor (us, for a
 * worker we spawned) starts it again.
 *
 * <p>A pid is only signalled when it provably names that worker: same boot, same pid and network
 * namespaces, same user, and the process start time the worker gave in its hello, so a reused pid
 * is never hit. The hello is the worker's word, so before each signal /proc must agree: the pid
 * exists, started at the ticks the hello gave, and runs as this coordinator's user (its real,
 * effective, saved and file-system uids all that one), which the hello must also have claimed. A
 * hello naming someone else's process, or a pid taken over since, gets that process no signal.
 * Workers on other hosts (or in other network namespaces) are their own supervisors' business.
 */
final class SilentWorkers {
  private static final System.Logger LOG = System.getLogger(SilentWorkers.class.getName());

  private final Conductor conductor;
  private final ScheduledExecutorService timers;
  private final long graceMs;
  private final HostIdentity self = HostIdentity.current();
  private final long pidNamespace = HostIdentity.pidNamespace();
  private final long ownPid = ProcessHandle.current().pid();
  private final long patienceMs;
  private final Predicate<Hello> stillLost;

  /**
   * @param patienceMs how long after losing a worker to wait for it to attach again before it is
   *     taken for hung: a worker that was only slow (a long GC pause, a starved CPU) notices its
   *     lost link and attaches again within moments, and must not be killed for it
   * @param stillLost whether the worker has not attached again (and may be reclaimed); asked on the
   *     conductor
   * @param timers where signals are sent and /proc is read, off the conductor
   */
  SilentWorkers(
      Conductor conductor,
      ScheduledExecutorService timers,
      long graceMs,
      long patienceMs,
      Predicate<Hello> stillLost) {
    this.conductor = conductor;
    this.timers = timers;
    this.graceMs = graceMs;
    this.patienceMs = patienceMs;
    this.stillLost = stillLost;
  }

  /** Called on the conductor (it must not block) for a worker silent past its lease. */
  void reclaim(String workerId, Hello hello) {
    long pid = hello.getPid();
    long started = hello.getProcessStartTicks();
    if (!isProvablyOnThisHost(hello) || pid <= 0 || pid == ownPid || started <= 0) {
      return;
    }
    timers.schedule(
        () ->
            conductor
                .ask(() -> stillLost.test(hello))
                .thenAcceptAsync(
                    lost -> {
                      if (lost) {
                        terminate(workerId, hello);
                      }
                    },
                    timers),
        patienceMs,
        TimeUnit.MILLISECONDS);
  }

  private void terminate(String workerId, Hello hello) {
    long pid = hello.getPid();
    long started = hello.getProcessStartTicks();
    String refusal = refusal(pid, started);
    if (refusal != null) {
      // Pids go in as strings: MessageFormat would print 14052 as "14,052".
      LOG.log(
          System.Logger.Level.WARNING,
          "worker {0} stopped answering, but its pid {1} is not signalled: {2}",
          workerId,
          String.valueOf(pid),
          refusal);
      return;
    }
    LOG.log(
        System.Logger.Level.WARNING,
        "worker {0} (pid {1}) stopped answering and did not come back within {2} ms: SIGTERM"
            + " now, SIGKILL in {3} ms if it is still there",
        workerId,
        String.valueOf(pid),
        patienceMs,
        graceMs);
    Signals.kill(pid, Signals.SIGTERM);
    // A stopped process acts on SIGTERM only once it runs again.
    Signals.kill(pid, Signals.SIGCONT);
    timers.schedule(() -> kill(workerId, pid, started), graceMs, TimeUnit.MILLISECONDS);
  }

  private void kill(String workerId, long pid, long started) {
    String refusal = refusal(pid, started);
    if (refusal == null) {
      LOG.log(
          System.Logger.Level.WARNING,
          "worker {0} (pid {1}) outlived its grace period: SIGKILL",
          workerId,
          String.valueOf(pid));
      Signals.kill(pid, Signals.SIGKILL);
    } else if (ProcessStat.of(pid).isPresent()) {
      // Gone by itself is what SIGTERM asked for; anything else is worth a line.
      LOG.log(
          System.Logger.Level.WARNING,
          "worker {0} (pid {1}) is past its grace period, but is not sent SIGKILL: {2}",
          workerId,
          String.valueOf(pid),
          refusal);
    }
  }

  /**
   * Why process {@code pid} must not be signalled as the worker that started at {@code startTicks},
   * or null when /proc says it is that worker's process and ours to signal.
   */
  String refusal(long pid, long startTicks) {
    java.util.Optional<ProcessStat> stat = ProcessStat.of(pid);
    if (stat.isEmpty()) {
      return "no such process (it is gone)";
    }
    if (stat.get().startTicks() != startTicks) {
      return "that process started at tick "
          + stat.get().startTicks()
          + ", not at "
          + startTicks
          + " as the worker's hello said (the pid names another process)";
    }
    java.util.OptionalInt uid = ProcessStat.soleUid(pid);
    if (uid.isEmpty() || uid.getAsInt() != self.uid()) {
      return "that process runs as "
          + (uid.isEmpty() ? "more than one user (or is gone)" : "uid " + uid.getAsInt())
          + ", not as this coordinator's uid "
          + self.uid();
    }
    return null;
  }

  private boolean isProvablyOnThisHost(Hello hello) {
    dev.weft.v1.HostIdentity host = hello.getHost();
    return !self.bootId().isEmpty()
        && self.bootId().equals(host.getBootId())
        && self.machineId().equals(host.getMachineId())
        && pidNamespace > 0
        && pidNamespace == host.getPidNamespace()
        // Another network namespace is another host as far as the network goes (a container, a
        // netns cluster): its worker may be cut off, not hung, and has its own supervisor.
        && self.netNamespace() > 0
        && self.netNamespace() == host.getNetNamespace()
        && self.uid() >= 0
        && self.uid() == host.getUid();
  }
}
