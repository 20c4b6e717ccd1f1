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

/**
 * The cgroup one exec task runs in (see {@link TaskCgroups}): every process the task starts stays
 * in it, whatever session or process group it makes, until it exits.
 */
final class TaskCgroup implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(TaskCgroup.class.getName());

  /**
   * Moves the shell into the cgroup, then execs the rest in its place: every process of the task
   * starts inside. Exit 125 (and a line on stderr) if the move fails, rather than a task out of
   * reach.
   */
  private static final String ENTER =
      "echo 0 > \"$1/cgroup.procs\" || { echo \"weft: cannot move the task into its cgroup $1\" >&2;"
          + " exit 125; }; shift; exec \"$@\"";

  /** cpu.max's period: the quota is CPU time per this much wall time, both in microseconds. */
  static final long CPU_PERIOD_US = 100_000;

  /** The kernel refuses a quota below a millisecond per period. */
  static final long MIN_CPU_QUOTA_US = 1_000;

  private final Path dir;
  private final Runnable onClose;
  private boolean closed;

  TaskCgroup(Path dir, Runnable onClose) {
    this.dir = dir;
    this.onClose = onClose;
  }

  Path dir() {
    return dir;
  }

  /** {@code command}, run so that it starts inside this cgroup. */
  List<String> enter(List<String> command) {
    List<String> wrapped = new ArrayList<>(command.size() + 5);
    wrapped.addAll(List.of("/bin/sh", "-c", ENTER, "weft-task", dir.toString()));
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
    try {
      Process probe =
          new ProcessBuilder(enter(List.of("true")))
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
    long perMilli = CPU_PERIOD_US / 1_000;
    long quota =
        Math.max(MIN_CPU_QUOTA_US, Math.min(cpuMillis, Long.MAX_VALUE / perMilli) * perMilli);
    Files.writeString(dir.resolve("cpu.max"), quota + " " + CPU_PERIOD_US);
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
   * How many of the task's processes the OOM killer has killed ({@code oom_kill} in memory.events);
   * 0 when the cgroup has no memory controller.
   */
  long oomKills() {
    try {
      for (String line : Files.readAllLines(dir.resolve("memory.events"))) {
        if (line.startsWith("oom_kill ")) {
          return Long.parseLong(line.substring("oom_kill ".length()).strip());
        }
      }
      return 0;
    } catch (NoSuchFileException e) {
      return 0;
    } catch (IOException | UncheckedIOException | NumberFormatException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot read " + dir + "/memory.events: " + e);
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

  /** Kills what is left, waits (bounded) for it to go, and removes the cgroup. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
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
    } finally {
      onClose.run();
    }
  }
}
