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
 * is never hit. Workers on other hosts (or in other network namespaces) are their own supervisors'
 * business.
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
    if (startTicks(pid) != started) {
      return; // gone by itself, or the pid names another process now
    }
    LOG.log(
        System.Logger.Level.WARNING,
        "worker {0} (pid {1}) stopped answering and did not come back within {2} ms: SIGTERM"
            + " now, SIGKILL in {3} ms if it is still there",
        workerId,
        pid,
        patienceMs,
        graceMs);
    Signals.kill(pid, Signals.SIGTERM);
    // A stopped process acts on SIGTERM only once it runs again.
    Signals.kill(pid, Signals.SIGCONT);
    timers.schedule(() -> kill(workerId, pid, started), graceMs, TimeUnit.MILLISECONDS);
  }

  private void kill(String workerId, long pid, long started) {
    if (startTicks(pid) == started) {
      LOG.log(
          System.Logger.Level.WARNING,
          "worker {0} (pid {1}) outlived its grace period: SIGKILL",
          workerId,
          pid);
      Signals.kill(pid, Signals.SIGKILL);
    }
  }

  private static long startTicks(long pid) {
    return ProcessStat.of(pid).map(ProcessStat::startTicks).orElse(-1L);
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
