package dev.weft.kinds;

import dev.weft.posix.ProcessStat;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * cgroup v2 containment for exec tasks, where this worker may make cgroups (as root, or in a cgroup
 * delegated to it, as systemd's {@code Delegate=yes} does): each task runs in a cgroup of its own,
 * so a cancel reaches every process the task started, even one that left its process group with
 * setsid (a daemon), and {@code cgroup.kill} ends them all at once. Where that is not possible (a
 * container with a read-only /sys/fs/cgroup, a kernel older than 5.14 without cgroup.kill) tasks
 * are contained by their process groups alone.
 *
 * <p>Inside this worker's own cgroup:
 *
 * <pre>
 * weft-worker-PIDNS-PID-START/   made with this worker's first running task, removed with its last
 *   task-N/                      one per running task
 * </pre>
 *
 * With its pid namespace (the inode of /proc/self/ns/pid) and start time (field 22 of
 * /proc/PID/stat) the pid names one process, so another worker in the same pid namespace can tell
 * the cgroups of a worker that died (SIGKILL, the OOM killer) and kill what is left in them; those
 * of workers in other pid namespaces it leaves alone, not knowing whether they live.
 */
final class TaskCgroups {
  private static final System.Logger LOG = System.getLogger(TaskCgroups.class.getName());
  private static final Pattern WORKER_DIR =
      Pattern.compile("weft-worker-(\\d{1,19})-(\\d{1,9})-(\\d{1,18})");
  private static final Pattern TASK_DIR = Pattern.compile("task-\\d{1,18}");

  private final Path parent;
  private final long pidNamespace;
  private final Path workerDir;
  private final AtomicLong nextTask = new AtomicLong(1);
  private final AtomicBoolean disabled = new AtomicBoolean();
  private final Object dirLock = new Object();
  private int running; // guarded by dirLock
  private boolean probed; // guarded by dirLock: a process was seen to enter a task cgroup

  TaskCgroups(Path parent, long pidNamespace, long workerPid, long workerStartTicks) {
    this.parent = parent;
    this.pidNamespace = pidNamespace;
    this.workerDir =
        parent.resolve("weft-worker-" + pidNamespace + "-" + workerPid + "-" + workerStartTicks);
  }

  /** This process's, when it is in a cgroup v2 hierarchy it can see; empty otherwise. */
  static Optional<TaskCgroups> forThisProcess() {
    long pidNamespace = ProcessStat.ownPidNamespace();
    if (pidNamespace < 0) {
      return Optional.empty(); // dead workers could not be told from live ones
    }
    return ownCgroup()
        .map(
            dir ->
                new TaskCgroups(
                    dir, pidNamespace, ProcessStat.self().pid(), ProcessStat.self().startTicks()));
  }

  /**
   * The directory of this process's cgroup in the v2 hierarchy: the cgroup2 mount (from
   * /proc/self/mountinfo) joined with the path in /proc/self/cgroup's {@code 0::} line.
   */
  static Optional<Path> ownCgroup() {
    try {
      Optional<String> own =
          Files.readAllLines(Path.of("/proc/self/cgroup")).stream()
              .filter(line -> line.startsWith("0::/"))
              .map(line -> line.substring(3))
              .findFirst();
      Optional<Path> mount = cgroup2Mount(Files.readAllLines(Path.of("/proc/self/mountinfo")));
      if (own.isEmpty() || mount.isEmpty()) {
        return Optional.empty();
      }
      Path dir = mount.get().resolve(own.get().substring(1));
      return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
          ? Optional.of(dir)
          : Optional.empty();
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
  }

  /** The mount point of the cgroup2 file system whose root is the hierarchy's (or ns's) root. */
  static Optional<Path> cgroup2Mount(List<String> mountinfo) {
    for (String line : mountinfo) {
      // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
      int separator = line.indexOf(" - ");
      if (separator < 0) {
        continue;
      }
      String[] before = line.substring(0, separator).split(" ");
      String[] after = line.substring(separator + 3).split(" ");
      if (before.length >= 5 && after.length >= 1 && after[0].equals("cgroup2")) {
        if (before[3].equals("/")) {
          return Optional.of(Path.of(unescape(before[4])));
        }
      }
    }
    return Optional.empty();
  }

  /** mountinfo writes space, tab, newline and backslash in paths as octal escapes. */
  private static String unescape(String field) {
    Matcher m = Pattern.compile("\\\\([0-7]{3})").matcher(field);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(
          out, Matcher.quoteReplacement(String.valueOf((char) Integer.parseInt(m.group(1), 8))));
    }
    m.appendTail(out);
    return out.toString();
  }

  /**
   * A new cgroup for one task, or empty when this worker cannot make one (said once in the log;
   * tasks then rely on their process groups).
   */
  Optional<TaskCgroup> create() {
    if (disabled.get()) {
      return Optional.empty();
    }
    synchronized (dirLock) {
      Path task = workerDir.resolve("task-" + nextTask.getAndIncrement());
      try {
        try {
          Files.createDirectory(workerDir);
        } catch (FileAlreadyExistsException e) {
          // Made for a task that still runs.
        }
        if (!Files.exists(workerDir.resolve("cgroup.kill"))) {
          disable("this kernel's cgroups have no cgroup.kill (Linux 5.14 or newer has it)");
          return Optional.empty();
        }
        Files.createDirectory(task);
      } catch (IOException | UncheckedIOException e) {
        disable("cannot make cgroups under " + parent + " (" + e + ")");
        return Optional.empty();
      }
      TaskCgroup cgroup = new TaskCgroup(task, this::released);
      running++;
      if (!probed) {
        Optional<String> problem;
        try {
          problem = cgroup.probeEntry();
        } catch (InterruptedException e) {
          // The task was cancelled meanwhile: it will not start, and the next one probes again.
          Thread.currentThread().interrupt();
          cgroup.close();
          return Optional.empty();
        }
        if (problem.isPresent()) {
          cgroup.close();
          disable("a process cannot move into " + task + " (" + problem.get() + ")");
          return Optional.empty();
        }
        probed = true;
      }
      return Optional.of(cgroup);
    }
  }

  private void disable(String why) {
    deleteIfEmpty(workerDir);
    if (disabled.compareAndSet(false, true)) {
      LOG.log(
          System.Logger.Level.INFO,
          "exec tasks run without cgroups of their own: "
              + why
              + "; a task's processes that leave its process group (setsid) are out of reach of"
              + " its cancel");
    }
  }

  /** A task's cgroup is gone: the last one takes the worker's directory with it. */
  private void released() {
    synchronized (dirLock) {
      if (--running == 0) {
        deleteIfEmpty(workerDir);
      }
    }
  }

  /** Kills what is left in every task cgroup of this worker (it is told to stop at once). */
  int killAll() {
    synchronized (dirLock) {
      return killTasksUnder(workerDir, false);
    }
  }

  /**
   * Kills what is left in the task cgroups of every worker beside this one that is gone (its pid is
   * missing or started at another time), and removes those cgroups. Problems are logged, never
   * thrown.
   *
   * @return how many task cgroups had processes to kill
   */
  int sweepOrphans() {
    int killed = 0;
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent, "weft-worker-*")) {
      for (Path dir : dirs) {
        Matcher name = WORKER_DIR.matcher(dir.getFileName().toString());
        if (name.matches()
            && Long.parseLong(name.group(1)) == pidNamespace
            && !ProcessStat.isRunning(
                Long.parseLong(name.group(2)), Long.parseLong(name.group(3)))) {
          killed += killTasksUnder(dir, true);
          deleteIfEmpty(dir);
        }
      }
    } catch (IOException | UncheckedIOException | DirectoryIteratorException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot sweep the task cgroups of dead workers under " + parent + ": " + e);
    }
    return killed;
  }

  private static int killTasksUnder(Path workerDir, boolean remove) {
    int killed = 0;
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(workerDir)) {
      for (Path task : tasks) {
        if (!TASK_DIR.matcher(task.getFileName().toString()).matches()) {
          continue;
        }
        TaskCgroup cgroup = new TaskCgroup(task, () -> {});
        if (cgroup.populated()) {
          cgroup.kill();
          killed++;
          LOG.log(
              System.Logger.Level.WARNING,
              "killed the processes left in " + task + " by an exec task of a worker now gone");
        }
        if (remove) {
          cgroup.close();
        }
      }
    } catch (NoSuchFileException e) {
      return killed; // swept by another worker starting at the same time, or never made
    } catch (IOException | UncheckedIOException | DirectoryIteratorException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot kill the task cgroups under " + workerDir + ": " + e);
    }
    return killed;
  }

  private static void deleteIfEmpty(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // Not empty (another task runs) or busy: the last task, or the next sweep, removes it.
    }
  }
}
