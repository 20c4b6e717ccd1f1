package dev.weft.kinds;

import dev.weft.posix.OwnCgroup;
import dev.weft.posix.ProcessStat;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

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
 *   worker/                      this worker's process, once it moved aside (below)
 * </pre>
 *
 * <p>A task that asks for memory or CPU gets {@code memory.max} or {@code cpu.max} in its cgroup,
 * which needs the controller enabled in the {@code cgroup.subtree_control} of the cgroups above it.
 * The kernel allows that in a cgroup other than the root only while no process is in it: so a
 * worker that is the only process of its cgroup (a systemd unit with {@code Delegate=yes}, a
 * container's single process) first moves itself into {@code worker/}, as systemd's {@code
 * DelegateSubgroup=} would. A worker that shares its cgroup with other processes, or whose cgroup
 * lacks the controller, runs such tasks without the bound and says so once in its log.
 *
 * <p>On a host that binds the memory or cpu controller to a cgroup v1 hierarchy (a "hybrid" host,
 * whose v2 hierarchy has neither), a bound the v2 cgroup cannot carry is set in a cgroup of that v1
 * hierarchy which the task enters too ({@link V1TaskCgroups}); the v2 controller is always tried
 * first. A host with cgroup v1 alone gives tasks no cgroups, and so no bounds: containment needs
 * v2's cgroup.kill.
 *
 * <p>With its pid namespace (the inode of /proc/self/ns/pid) and start time (field 22 of
 * /proc/PID/stat) the pid names one process, so another worker in the same pid namespace can tell
 * the cgroups of a worker that died (SIGKILL, the OOM killer) and kill what is left in them; those
 * of workers in other pid namespaces it leaves alone, not knowing whether they live.
 */
final class TaskCgroups {
  private static final System.Logger LOG = System.getLogger(TaskCgroups.class.getName());
  private static final Pattern WORKER_DIR =
      Pattern.compile("weft-worker-(\\d{1,19})-(\\d{1,9})-(\\d{1,18})");
  private static final Pattern TASK_DIR = Pattern.compile("task-\\d{1,18}");
  private static final String WORKER_LEAF = "worker";
  private static final List<String> V1_CONTROLLERS = List.of("memory", "cpu");

  private final Path parent;
  private final long pidNamespace;
  private final Path workerDir;
  private final AtomicLong nextTask = new AtomicLong(1);
  private final AtomicBoolean disabled = new AtomicBoolean();
  private final Object dirLock = new Object();
  private int running; // guarded by dirLock
  private boolean probed; // guarded by dirLock: a process was seen to enter a task cgroup
  // Why a controller cannot be enabled for the task cgroups, once found: not tried again.
  private final Map<String, String> v2Lacks = new ConcurrentHashMap<>();
  // Controllers whose bounds tasks run without (said once in the log).
  private final Set<String> unbounded = ConcurrentHashMap.newKeySet();
  private final Map<String, V1TaskCgroups> v1;

  TaskCgroups(Path parent, long pidNamespace, long workerPid, long workerStartTicks) {
    this(parent, Map.of(), pidNamespace, workerPid, workerStartTicks);
  }

  /**
   * @param v1Parents this worker's cgroups in the v1 hierarchies of controllers, by controller
   *     ("memory", "cpu"), for the bounds its v2 cgroups cannot carry; empty for none
   */
  TaskCgroups(
      Path parent,
      Map<String, Path> v1Parents,
      long pidNamespace,
      long workerPid,
      long workerStartTicks) {
    this.parent = parent;
    this.pidNamespace = pidNamespace;
    String name = workerDirName(pidNamespace, workerPid, workerStartTicks);
    this.workerDir = parent.resolve(name);
    this.v1 =
        v1Parents.entrySet().stream()
            .collect(
                Collectors.toUnmodifiableMap(
                    Map.Entry::getKey,
                    e -> new V1TaskCgroups(e.getKey(), e.getValue(), pidNamespace, name)));
  }

  /** This process's, when it is in a cgroup v2 hierarchy it can see; empty otherwise. */
  static Optional<TaskCgroups> forThisProcess() {
    long pidNamespace = ProcessStat.ownPidNamespace();
    if (pidNamespace < 0) {
      return Optional.empty(); // dead workers could not be told from live ones
    }
    ProcessStat self = ProcessStat.self();
    return OwnCgroup.directory()
        .map(
            dir ->
                new TaskCgroups(
                    startCgroup(dir, workerDirName(pidNamespace, self.pid(), self.startTicks())),
                    v1Parents(),
                    pidNamespace,
                    self.pid(),
                    self.startTicks()));
  }

  /** This process's cgroups in the v1 hierarchies of the controllers bounds need, if mounted. */
  static Map<String, Path> v1Parents() {
    Map<String, Path> parents = new HashMap<>();
    for (String controller : V1_CONTROLLERS) {
      OwnCgroup.v1Directory(controller).ifPresent(dir -> parents.put(controller, dir));
    }
    return Map.copyOf(parents);
  }

  static String workerDirName(long pidNamespace, long workerPid, long workerStartTicks) {
    return "weft-worker-" + pidNamespace + "-" + workerPid + "-" + workerStartTicks;
  }

  /**
   * The cgroup this worker started in, under which its task cgroups live: {@code own}, or, once the
   * worker has moved into its leaf {@code WORKERDIR/worker}, the cgroup above WORKERDIR.
   */
  static Path startCgroup(Path own, String workerDirName) {
    Path up = own.getParent();
    if (up != null
        && up.getParent() != null
        && own.getFileName().toString().equals(WORKER_LEAF)
        && up.getFileName().toString().equals(workerDirName)) {
      return up.getParent();
    }
    return own;
  }

  /**
   * A new cgroup for one task, bounded as {@code resources} ask where this worker can (see above),
   * or empty when this worker cannot make one (said once in the log; tasks then rely on their
   * process groups).
   */
  Optional<TaskCgroup> create(TaskResources resources) {
    Optional<TaskCgroup> cgroup = create();
    cgroup.ifPresent(task -> limit(task, resources));
    return cgroup;
  }

  /** A new cgroup for one task, without bounds. */
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

  /** Writes the task's bounds; one that cannot be enforced is said once in the log. */
  private void limit(TaskCgroup task, TaskResources resources) {
    long bytes = resources.memBytes();
    if (bytes > 0) {
      bound(
          task,
          "memory",
          "memory.max",
          v2Dir -> task.limitMemory(bytes),
          v1Dir -> V1TaskCgroups.limitMemory(v1Dir, bytes));
    }
    long cpuMillis = resources.cpuMillis();
    if (cpuMillis > 0) {
      bound(
          task,
          "cpu",
          "cpu.max",
          v2Dir -> task.limitCpu(cpuMillis),
          v1Dir -> V1TaskCgroups.limitCpu(v1Dir, cpuMillis));
    }
  }

  /**
   * Bounds {@code task} through {@code controller}: in its v2 cgroup ({@code file} is the
   * controller's interface file there), else in the controller's v1 hierarchy.
   */
  private void bound(
      TaskCgroup task,
      String controller,
      String file,
      TaskCgroup.Bound v2,
      TaskCgroup.Bound v1Bound) {
    Optional<String> v2Problem = v2Controller(task, controller, file);
    if (v2Problem.isEmpty()) {
      try {
        v2.write(task.dir());
      } catch (IOException | UncheckedIOException e) {
        cannotLimit(controller, "cannot write " + task.dir() + "/" + file + " (" + e + ")");
      }
      return;
    }
    V1TaskCgroups hierarchy = v1.get(controller);
    Optional<String> v1Problem =
        hierarchy == null
            ? Optional.of("no cgroup v1 hierarchy of it is mounted either")
            : hierarchy.attach(task, v1Bound);
    v1Problem.ifPresent(why -> cannotLimit(controller, v2Problem.get() + "; " + why));
  }

  /**
   * Empty when {@code task} has {@code controller}'s interface file {@code file}: the controller is
   * enabled in the cgroups above it, by this call if need be; else why it cannot be.
   */
  Optional<String> v2Controller(TaskCgroup task, String controller, String file) {
    if (Files.exists(task.dir().resolve(file))) {
      return Optional.empty();
    }
    String known = v2Lacks.get(controller);
    if (known != null) {
      return Optional.of(known);
    }
    // Concurrent calls for two tasks write the same values: each step may run twice.
    Optional<String> problem;
    try {
      problem = enableForTasks(controller);
    } catch (IOException | UncheckedIOException e) {
      problem = Optional.of(e.toString());
    }
    if (problem.isEmpty() && !Files.exists(task.dir().resolve(file))) {
      problem = Optional.of(task.dir().resolve(file) + " did not appear");
    }
    problem.ifPresent(why -> v2Lacks.putIfAbsent(controller, why));
    return problem;
  }

  /** Enables {@code controller} in this worker's cgroup and its directory, for the task cgroups. */
  private Optional<String> enableForTasks(String controller) throws IOException {
    if (!words(parent.resolve("cgroup.subtree_control")).contains(controller)) {
      if (!words(parent.resolve("cgroup.controllers")).contains(controller)) {
        return Optional.of(
            "the "
                + controller
                + " controller is not available in "
                + parent
                + " (not in its cgroup.controllers: not delegated to this worker's cgroup, or bound"
                + " to a cgroup v1 hierarchy)");
      }
      try {
        Files.writeString(parent.resolve("cgroup.subtree_control"), "+" + controller);
      } catch (IOException e) {
        // Refused while a process is in it (EBUSY): this worker's own, and maybe others.
        if (!moveAside()) {
          return Optional.of(
              "cannot enable the "
                  + controller
                  + " controller for the cgroups under "
                  + parent
                  + " ("
                  + e.getMessage()
                  + "): a cgroup other than the root may do so only while no process is in it, and"
                  + " this worker shares it with other processes; run the worker alone in a cgroup"
                  + " delegated to it (systemd's Delegate=yes)");
        }
        Files.writeString(parent.resolve("cgroup.subtree_control"), "+" + controller);
      }
    }
    if (!words(workerDir.resolve("cgroup.subtree_control")).contains(controller)) {
      Files.writeString(workerDir.resolve("cgroup.subtree_control"), "+" + controller);
    }
    return Optional.empty();
  }

  /**
   * Moves this worker's process out of its cgroup into {@code WORKERDIR/worker}, when it is the
   * only process there, so that the cgroup may hand controllers down. False when other processes
   * are there too: moving this one would not empty it.
   */
  private boolean moveAside() throws IOException {
    long self = ProcessHandle.current().pid();
    if (!TaskCgroup.pidsIn(parent).equals(List.of(self))) {
      return false;
    }
    Path leaf = workerDir.resolve(WORKER_LEAF);
    try {
      Files.createDirectory(leaf);
    } catch (FileAlreadyExistsException e) {
      // Another task's limits moved the worker a moment ago.
    }
    Files.writeString(leaf.resolve("cgroup.procs"), Long.toString(self));
    LOG.log(
        System.Logger.Level.INFO,
        "moved this worker into "
            + leaf
            + ", so that its exec tasks' cgroups may be given memory and cpu bounds");
    return true;
  }

  private void cannotLimit(String controller, String why) {
    if (unbounded.add(controller)) {
      LOG.log(
          System.Logger.Level.WARNING,
          "exec tasks run without the "
              + (controller.equals("cpu") ? "CPU" : controller)
              + " bound they ask for: "
              + why);
    }
  }

  private static List<String> words(Path file) throws IOException {
    try {
      return List.of(Files.readString(file).strip().split("\\s+"));
    } catch (NoSuchFileException e) {
      return List.of();
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

  /** A task's cgroup is gone: the last one takes the worker's directories with it. */
  private void released() {
    boolean last;
    synchronized (dirLock) {
      last = --running == 0;
      if (last) {
        deleteIfEmpty(workerDir);
      }
    }
    if (last) {
      // Outside the lock: a task starting meanwhile makes the directory again if it went.
      v1.values().forEach(V1TaskCgroups::removeWorkerDirIfEmpty);
    }
  }

  /** This worker's directories in the v1 hierarchies it bounds tasks through. */
  List<Path> v1WorkerDirs() {
    return v1.values().stream().map(V1TaskCgroups::workerDir).toList();
  }

  /** Kills what is left in every task cgroup of this worker (it is told to stop at once). */
  int killAll() {
    synchronized (dirLock) {
      return killTasksUnder(workerDir, false);
    }
  }

  /**
   * Kills what is left in the task cgroups of every worker beside this one that is gone (its pid is
   * missing or started at another time), and removes those cgroups, its v1 ones too. Problems are
   * logged, never thrown.
   *
   * @return how many task cgroups had processes to kill
   */
  int sweepOrphans() {
    int killed = sweepV2Orphans();
    for (V1TaskCgroups hierarchy : v1.values()) {
      killed += hierarchy.sweepOrphans();
    }
    return killed;
  }

  /**
   * True when {@code name} is the directory of a worker of pid namespace {@code pidNamespace} that
   * is gone: its pid is missing or started at another time.
   */
  static boolean isDeadWorkerDir(String name, long pidNamespace) {
    Matcher worker = WORKER_DIR.matcher(name);
    return worker.matches()
        && Long.parseLong(worker.group(1)) == pidNamespace
        && !ProcessStat.isRunning(Long.parseLong(worker.group(2)), Long.parseLong(worker.group(3)));
  }

  static boolean isTaskDir(String name) {
    return TASK_DIR.matcher(name).matches();
  }

  private int sweepV2Orphans() {
    int killed = 0;
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(parent, "weft-worker-*")) {
      for (Path dir : dirs) {
        if (isDeadWorkerDir(dir.getFileName().toString(), pidNamespace)) {
          killed += killTasksUnder(dir, true);
          deleteIfEmpty(dir.resolve(WORKER_LEAF)); // the dead worker's own, empty with it gone
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
        if (!isTaskDir(task.getFileName().toString())) {
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

  static void deleteIfEmpty(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // Not empty (another task runs) or busy: the last task, or the next sweep, removes it.
    }
  }
}
