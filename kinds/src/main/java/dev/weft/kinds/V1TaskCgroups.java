package dev.weft.kinds;

import dev.weft.posix.Signals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The task cgroups of one cgroup v1 hierarchy, memory or cpu, on hosts that bind that controller to
 * v1 ("hybrid" hosts, whose v2 hierarchy has no controllers, and v1-only ones). A task whose v2
 * cgroup ({@link TaskCgroups}) cannot carry a bound it asked for enters a cgroup of the
 * controller's v1 hierarchy too, named as its v2 one, which carries the bound:
 *
 * <pre>
 * MOUNT/OWN/                       this worker's cgroup in the hierarchy (/proc/self/cgroup)
 *   weft-worker-PIDNS-PID-START/   made with this worker's first task bounded here, removed with its
 *     task-N/                      last; one per bounded task, named as its v2 cgroup
 * </pre>
 *
 * <p>v1 lets a cgroup with processes in it have children, so the worker stays where it is. v1 has
 * no cgroup.kill: the task's processes, all in its v2 cgroup too, are killed through that one, and
 * its v1 cgroups are removed once they are gone (the kernel refuses while a process remains).
 */
final class V1TaskCgroups {
  private static final System.Logger LOG = System.getLogger(V1TaskCgroups.class.getName());

  /** How long a removal waits for the last processes of a killed task to leave its cgroup. */
  private static final long REMOVE_WAIT_MS = 1_000;

  // A task dir may vanish between making the worker's and the task's: its last task removed it.
  private static final int CREATE_ATTEMPTS = 3;

  private final String controller;
  private final Path parent;
  private final long pidNamespace;
  private final Path workerDir;
  private final AtomicBoolean entryChecked = new AtomicBoolean();
  private final AtomicReference<String> unusable = new AtomicReference<>();
  private final AtomicBoolean announced = new AtomicBoolean();

  V1TaskCgroups(String controller, Path parent, long pidNamespace, String workerDirName) {
    this.controller = controller;
    this.parent = parent;
    this.pidNamespace = pidNamespace;
    this.workerDir = parent.resolve(workerDirName);
  }

  Path workerDir() {
    return workerDir;
  }

  /**
   * Makes {@code task}'s cgroup in this hierarchy, writes {@code bound} into it and has the task
   * enter it with its v2 one. The first such cgroup is probed with a process entering it, so a
   * hierarchy that refuses the move is given up once rather than failing every task with exit 125.
   *
   * @return empty if the task is bounded here, else why not
   */
  Optional<String> attach(TaskCgroup task, TaskCgroup.Bound bound) {
    String refused = unusable.get();
    if (refused != null) {
      return Optional.of(refused);
    }
    Path dir;
    try {
      dir = create(task.dir().getFileName().toString());
    } catch (IOException | UncheckedIOException e) {
      return Optional.of(
          "cannot make a cgroup in its cgroup v1 hierarchy under " + parent + " (" + e + ")");
    }
    try {
      bound.write(dir);
    } catch (IOException | UncheckedIOException e) {
      remove(dir);
      return Optional.of("cannot write the bound into " + dir + " (" + e + ")");
    }
    if (!entryChecked.get()) {
      Optional<String> problem;
      try {
        problem = TaskCgroup.probeEntry(List.of(dir));
      } catch (InterruptedException e) {
        // The task is being cancelled and will not run: the probe is left to the next one.
        Thread.currentThread().interrupt();
        task.alsoEnter(controller, dir);
        return Optional.empty();
      }
      if (problem.isPresent()) {
        remove(dir);
        String why = "a process cannot move into " + dir + " (" + problem.get() + ")";
        unusable.compareAndSet(null, why);
        return Optional.of(why);
      }
      entryChecked.set(true);
    }
    task.alsoEnter(controller, dir);
    if (announced.compareAndSet(false, true)) {
      LOG.log(
          System.Logger.Level.INFO,
          "exec tasks get their "
              + (controller.equals("cpu") ? "CPU" : controller)
              + " bounds in the cgroup v1 hierarchy under "
              + parent
              + ", the "
              + controller
              + " controller being bound to v1 on this host");
    }
    return Optional.empty();
  }

  private Path create(String taskName) throws IOException {
    Path task = workerDir.resolve(taskName);
    for (int attempt = 1; ; attempt++) {
      try {
        Files.createDirectory(workerDir);
      } catch (FileAlreadyExistsException e) {
        // Made for a task that still runs.
      }
      try {
        return Files.createDirectory(task);
      } catch (NoSuchFileException e) {
        if (attempt == CREATE_ATTEMPTS) {
          throw e;
        }
      }
    }
  }

  /**
   * Bounds the memory of a v1 memory cgroup: {@code memory.limit_in_bytes}, then memory and swap
   * together to the same ({@code memory.memsw.limit_in_bytes}, where the kernel accounts swap), so
   * swap does not dodge the bound. The kernel keeps memsw at least the limit: the limit goes first.
   */
  static void limitMemory(Path dir, long bytes) throws IOException {
    Files.writeString(dir.resolve("memory.limit_in_bytes"), Long.toString(bytes));
    try {
      Files.writeString(
          dir.resolve("memory.memsw.limit_in_bytes"),
          Long.toString(bytes),
          StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
    } catch (NoSuchFileException e) {
      // No swap accounting in this kernel (swapaccount=0): nothing to set.
    }
  }

  /** Bounds the CPU time of a v1 cpu cgroup as {@link TaskCgroup#limitCpu} does in v2. */
  static void limitCpu(Path dir, long cpuMillis) throws IOException {
    Files.writeString(dir.resolve("cpu.cfs_period_us"), Long.toString(TaskCgroup.CPU_PERIOD_US));
    Files.writeString(
        dir.resolve("cpu.cfs_quota_us"), Long.toString(TaskCgroup.cpuQuotaUs(cpuMillis)));
  }

  /**
   * How many processes the OOM killer has killed in v1 memory cgroup {@code dir}: {@code oom_kill}
   * in memory.oom_control (Linux 4.13 or newer; 0 before). Not memory.failcnt, which also counts
   * the times the kernel reclaimed memory to stay within the bound.
   */
  static long oomKills(Path dir) {
    return TaskCgroup.oomKillCount(dir.resolve("memory.oom_control"));
  }

  /**
   * Removes task cgroup {@code dir}, SIGKILLing what is still in it and retrying while the kernel
   * refuses (EBUSY: the last processes are still exiting); logs if it cannot by a short deadline.
   *
   * @return true when the cgroup is gone
   */
  static boolean remove(Path dir) {
    AtomicReference<IOException> refusal = new AtomicReference<>();
    boolean removed =
        Polls.awaitGone(
            () -> {
              try {
                Files.deleteIfExists(dir);
                return false;
              } catch (IOException e) {
                refusal.set(e);
                // The task's v2 cgroup.kill normally got them all; one that escaped it goes here.
                TaskCgroup.pidsIn(dir).forEach(pid -> Signals.kill(pid, Signals.SIGKILL));
                return true;
              }
            },
            System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REMOVE_WAIT_MS));
    if (!removed) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot remove the task cgroup " + dir + " (a process stuck in it?): " + refusal.get());
    }
    return removed;
  }

  /** The worker's last task ended: its directory goes, unless a new task made a cgroup in it. */
  void removeWorkerDirIfEmpty() {
    TaskCgroups.deleteIfEmpty(workerDir);
  }

  /**
   * Removes the cgroups of this hierarchy that workers beside this one, now gone, left, killing
   * what is still in them. Problems are logged, never thrown.
   *
   * @return how many task cgroups had processes to kill
   */
  int sweepOrphans() {
    int killed = 0;
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent, "weft-worker-*")) {
      for (Path dir : dirs) {
        if (TaskCgroups.isDeadWorkerDir(dir.getFileName().toString(), pidNamespace)) {
          killed += removeTasksUnder(dir);
          TaskCgroups.deleteIfEmpty(dir);
        }
      }
    } catch (IOException | UncheckedIOException | DirectoryIteratorException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot sweep the " + controller + " cgroups of dead workers under " + parent + ": " + e);
    }
    return killed;
  }

  private static int removeTasksUnder(Path workerDir) {
    int killed = 0;
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(workerDir)) {
      for (Path task : tasks) {
        if (!TaskCgroups.isTaskDir(task.getFileName().toString())) {
          continue;
        }
        if (!TaskCgroup.pidsIn(task).isEmpty()) {
          killed++;
          LOG.log(
              System.Logger.Level.WARNING,
              "killing the processes left in " + task + " by an exec task of a worker now gone");
        }
        remove(task);
      }
    } catch (NoSuchFileException e) {
      return killed; // swept by another worker starting at the same time
    } catch (IOException | UncheckedIOException | DirectoryIteratorException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot remove the task cgroups under " + workerDir + ": " + e);
    }
    return killed;
  }
}
