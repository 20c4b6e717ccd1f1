package dev.weft.kinds;

import dev.weft.posix.ProcessStat;
import dev.weft.posix.Signals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The cgroup one exec task runs in (see {@link TaskCgroups}): every process the task starts stays
 * in it, whatever session or process group it makes, until it exits. Where a bound the task asked
 * for needs a controller bound to cgroup v1, the task also runs in a cgroup of that v1 hierarchy
 * ({@link V1TaskCgroups}).
 */
final class TaskCgroup implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(TaskCgroup.class.getName());

  /**
   * Moves the shell into each of the cgroups (their count first, then their directories; writing 0
   * to cgroup.procs moves the writer, in v1 as in v2), then execs the rest in its place: every
   * process of the task starts inside. Exit 125 (and a line on stderr) if a move fails, rather than
   * a task out of reach or unbounded.
   */
  private static final String ENTER =
      "n=$1; shift; while [ \"$n\" -gt 0 ]; do echo 0 > \"$1/cgroup.procs\" || { echo \"weft:"
          + " cannot move the task into its cgroup $1\" >&2; exit 125; }; shift; n=$((n - 1));"
          + " done; exec \"$@\"";

  /** cpu.max's period: the quota is CPU time per this much wall time, both in microseconds. */
  static final long CPU_PERIOD_US = 100_000;

  /** The kernel refuses a quota below a millisecond per period. */
  static final long MIN_CPU_QUOTA_US = 1_000;

  /** Writes a bound (memory, CPU) into the cgroup {@code dir}. */
  interface Bound {
    void write(Path dir) throws IOException;
  }

  /** A cgroup of a v1 hierarchy the task enters too, for {@code controller}'s bound. */
  private record V1Cgroup(String controller, Path dir) {}

  private final Path dir;
  private final Runnable onClose;
  private final AtomicBoolean closed = new AtomicBoolean();
  // Added while the task is set up, before it starts; read by the threads that wait for it.
  private volatile List<V1Cgroup> v1 = List.of();

  TaskCgroup(Path dir, Runnable onClose) {
    this.dir = dir;
    this.onClose = onClose;
  }

  Path dir() {
    return dir;
  }

  /**
   * Has the task enter {@code v1Dir} too, which bounds it through {@code controller}'s v1
   * hierarchy, and removes it with this cgroup. Called before the task starts.
   */
  void alsoEnter(String controller, Path v1Dir) {
    List<V1Cgroup> more = new ArrayList<>(v1);
    more.add(new V1Cgroup(controller, v1Dir));
    v1 = List.copyOf(more);
  }

  /** The v1 cgroup the task enters for {@code controller}'s bound, if it has one. */
  Optional<Path> v1Dir(String controller) {
    return v1.stream()
        .filter(c -> c.controller().equals(controller))
        .map(V1Cgroup::dir)
        .findFirst();
  }

  /** {@code command}, run so that it starts inside this cgroup (and its v1 ones). */
  List<String> enter(List<String> command) {
    List<Path> dirs = new ArrayList<>();
    dirs.add(dir);
    v1.forEach(c -> dirs.add(c.dir()));
    return enter(dirs, command);
  }

  private static List<String> enter(List<Path> dirs, List<String> command) {
    List<String> wrapped = new ArrayList<>(command.size() + dirs.size() + 5);
    wrapped.addAll(List.of("/bin/sh", "-c", ENTER, "weft-task", Integer.toString(dirs.size())));
    dirs.forEach(d -> wrapped.add(d.toString()));
    wrapped.addAll(command);
    return wrapped;
  }

  /**
   * Runs {@code true} through {@link #enter}: a cgroup made in a tree whose rules forbid moving
   * processes in (controllers enabled above, a foreign delegation) fails here once, rather than
   * every task failing with exit 125.
   *
   * @return empty if the process entered, else what went wrong
   * @throws InterruptedException if interrupted while the probe ran (it ends by itself)
   */
  Optional<String> probeEntry() throws InterruptedException {
    return probeEntry(List.of(dir));
  }

  /** {@link #probeEntry()} for the cgroups {@code dirs}. */
  static Optional<String> probeEntry(List<Path> dirs) throws InterruptedException {
    try {
      Process probe =
          new ProcessBuilder(enter(dirs, List.of("true")))
              .redirectErrorStream(true)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
      String output = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!probe.waitFor(10, TimeUnit.SECONDS)) {
        probe.destroyForcibly();
        return Optional.of("the probe did not finish within 10 s");
      }
      return probe.exitValue() == 0
          ? Optional.empty()
          : Optional.of("exit " + probe.exitValue() + ": " + output.strip());
    } catch (IOException e) {
      return Optional.of(e.toString());
    }
  }

  /**
   * Bounds the memory of the task's processes, before any of them enters: {@code memory.max}, no
   * swap beyond it ({@code memory.swap.max}, where the kernel has swap accounting), and {@code
   * memory.oom.group}, so that the OOM killer ends the task as a whole rather than one process the
   * rest would wait for or outlive.
   */
  void limitMemory(long bytes) throws IOException {
    Files.writeString(dir.resolve("memory.max"), Long.toString(bytes));
    writeIfPresent("memory.swap.max", "0");
    writeIfPresent("memory.oom.group", "1");
  }

  /** Bounds the CPU time of the task's processes to {@code cpuMillis} thousandths of a CPU. */
  void limitCpu(long cpuMillis) throws IOException {
    Files.writeString(dir.resolve("cpu.max"), cpuQuotaUs(cpuMillis) + " " + CPU_PERIOD_US);
  }

  /** The CPU time per {@link #CPU_PERIOD_US} of {@code cpuMillis} thousandths of a CPU. */
  static long cpuQuotaUs(long cpuMillis) {
    long perMilli = CPU_PERIOD_US / 1_000;
    return Math.max(MIN_CPU_QUOTA_US, Math.min(cpuMillis, Long.MAX_VALUE / perMilli) * perMilli);
  }

  private void writeIfPresent(String file, String value) throws IOException {
    try {
      Files.writeString(
          dir.resolve(file), value, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    } catch (NoSuchFileException e) {
      // This kernel has no such knob (no swap accounting, an older kernel): nothing to set.
    }
  }

  /**
   * How many of the task's processes the OOM killer has killed ({@code oom_kill} in memory.events,
   * or in the v1 memory cgroup's memory.oom_control); 0 when it has no memory controller.
   */
  long oomKills() {
    return v2OomKills() + v1Dir("memory").map(V1TaskCgroups::oomKills).orElse(0L);
  }

  private long v2OomKills() {
    return oomKillCount(dir.resolve("memory.events"));
  }

  /**
   * The {@code oom_kill} count in a cgroup's memory.events (v2) or memory.oom_control (v1); 0 when
   * the file or the line is missing (a kernel that does not count them).
   */
  static long oomKillCount(Path file) {
    try {
      for (String line : Files.readAllLines(file)) {
        if (line.startsWith("oom_kill ")) {
          return Long.parseLong(line.substring("oom_kill ".length()).strip());
        }
      }
      return 0;
    } catch (NoSuchFileException e) {
      return 0;
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot read " + file + ": " + e);
      return 0;
    }
  }

  /** True while a live process (not a zombie) is in the cgroup. */
  boolean populated() {
    try {
      for (String line : Files.readAllLines(dir.resolve("cgroup.events"))) {
        if (line.startsWith("populated ")) {
          return !line.equals("populated 0");
        }
      }
      return false;
    } catch (NoSuchFileException e) {
      return false;
    } catch (IOException | UncheckedIOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot read " + dir + "/cgroup.events: " + e);
      return false;
    }
  }

  /**
   * Sends {@code signal} to the processes of the cgroup outside process group {@code pgid} (which
   * the caller signals as a whole): those that made a session of their own.
   */
  void signalOutside(long pgid, int signal) {
    for (long pid : pids()) {
      if (ProcessStat.of(pid).map(stat -> stat.processGroup() != pgid).orElse(false)) {
        Signals.kill(pid, signal);
      }
    }
  }

  private List<Long> pids() {
    return pidsIn(dir);
  }

  /** The processes in cgroup {@code dir} (its cgroup.procs); empty if it is gone or unreadable. */
  static List<Long> pidsIn(Path dir) {
    try {
      return Files.readAllLines(dir.resolve("cgroup.procs")).stream()
          .filter(line -> !line.isBlank())
          .map(line -> Long.parseLong(line.strip()))
          .toList();
    } catch (NoSuchFileException e) {
      return List.of();
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot read " + dir + "/cgroup.procs: " + e);
      return List.of();
    }
  }

  /** SIGKILLs every process in the cgroup, forks racing the kill included. */
  void kill() {
    try {
      Files.writeString(dir.resolve("cgroup.kill"), "1");
    } catch (NoSuchFileException e) {
      // Already removed: nothing is in it.
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot write " + dir + "/cgroup.kill: " + e);
    }
  }

  /** Kills what is left, waits (bounded) for it to go, and removes the cgroup and its v1 ones. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      if (populated()) {
        kill();
        Polls.awaitGone(
            this::populated,
            System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ProcessGroup.KILL_WAIT_MS));
      }
      try {
        Files.deleteIfExists(dir);
      } catch (IOException e) {
        LOG.log(
            System.Logger.Level.WARNING,
            "cannot remove the task cgroup " + dir + " (a process stuck in it?): " + e);
      }
      v1.forEach(c -> V1TaskCgroups.remove(c.dir()));
    } finally {
      onClose.run();
    }
  }
}
