package dev.weft.posix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What /proc/PID/stat says about one process: enough to tell processes and process groups apart.
 *
 * <p>A pid alone can be reused; a pid and its start time name one process. Processes come and go
 * while /proc is read, so a process that vanished is an empty answer, not an error.
 *
 * @param pid the process id (field 1)
 * @param state one letter (field 3): R running, S sleeping, D uninterruptible, T stopped, Z zombie…
 * @param parentPid field 4
 * @param processGroup field 5
 * @param startTicks when it started, in clock ticks since boot (field 22)
 */
public record ProcessStat(
    long pid, char state, long parentPid, long processGroup, long startTicks) {

  private static final Path PROC = Path.of("/proc");

  /** The process {@code pid}, or empty when there is none (any more). */
  public static Optional<ProcessStat> of(long pid) {
    if (pid <= 0) {
      return Optional.empty();
    }
    return read(PROC.resolve(Long.toString(pid)).resolve("stat"));
  }

  /** This process. */
  public static ProcessStat self() {
    return read(PROC.resolve("self").resolve("stat"))
        .orElseThrow(() -> new IllegalStateException("/proc/self/stat is not readable"));
  }

  /** Every process this one can see in /proc; those that exit during the scan are left out. */
  public static List<ProcessStat> all() {
    List<ProcessStat> all = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(PROC, ProcessStat::isPidEntry)) {
      for (Path entry : entries) {
        read(entry.resolve("stat")).ifPresent(all::add);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + PROC, e);
    }
    return all;
  }

  /**
   * The members of process group {@code pgid} that are not zombies. A zombie has ended and holds
   * nothing but its exit status; where init does not reap orphans (some containers), zombies stay
   * for ever, so a group of zombies counts as gone.
   */
  public static List<ProcessStat> liveMembersOf(long pgid) {
    List<ProcessStat> members = new ArrayList<>();
    for (ProcessStat process : all()) {
      if (process.processGroup == pgid && !process.isZombie()) {
        members.add(process);
      }
    }
    return members;
  }

  /** True while process {@code pid} runs and is the one that started at {@code startTicks}. */
  public static boolean isRunning(long pid, long startTicks) {
    return of(pid).filter(p -> p.startTicks == startTicks && !p.isZombie()).isPresent();
  }

  /**
   * The inode of this process's pid namespace, or -1 when it cannot be read: pids (and so {@link
   * #isRunning}) name the same process only within one pid namespace.
   */
  public static long ownPidNamespace() {
    try {
      return ((Number) Files.getAttribute(PROC.resolve("self/ns/pid"), "unix:ino")).longValue();
    } catch (IOException | UnsupportedOperationException e) {
      return -1;
    }
  }

  /** The user owning process {@code pid}, or empty when there is no such process. */
  public static OptionalInt ownerUid(long pid) {
    try {
      Object uid = Files.getAttribute(PROC.resolve(Long.toString(pid)), "unix:uid");
      return OptionalInt.of((Integer) uid);
    } catch (NoSuchFileException e) {
      return OptionalInt.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the owner of process " + pid, e);
    }
  }

  /**
   * The user process {@code pid} runs as, from the {@code Uid:} line of /proc/PID/status, when its
   * real, effective, saved and file-system uids are all that one user; empty when there is no such
   * process, or they differ (a set-user-ID program, one that changed users). Unlike the owner of
   * /proc/PID, this is not turned into root for a process that made itself non-dumpable.
   */
  public static OptionalInt soleUid(long pid) {
    if (pid <= 0) {
      return OptionalInt.empty();
    }
    Path status = PROC.resolve(Long.toString(pid)).resolve("status");
    List<String> lines;
    try {
      lines = Files.readAllLines(status);
    } catch (NoSuchFileException e) {
      return OptionalInt.empty();
    } catch (IOException e) {
      if (!Files.exists(status.getParent())) {
        return OptionalInt.empty(); // reaped between open and read
      }
      throw new UncheckedIOException("cannot read " + status, e);
    }
    for (String line : lines) {
      if (line.startsWith("Uid:")) {
        List<String> uids = List.of(line.substring(4).trim().split("\\s+"));
        if (uids.size() != 4 || !uids.stream().allMatch(uids.getFirst()::equals)) {
          return OptionalInt.empty();
        }
        return OptionalInt.of(Integer.parseUnsignedInt(uids.getFirst()));
      }
    }
    throw new IllegalStateException(status + " has no Uid: line");
  }

  public boolean isZombie() {
    return state == 'Z';
  }

  private static boolean isPidEntry(Path entry) {
    String name = entry.getFileName().toString();
    return !name.isEmpty() && name.chars().allMatch(c -> c >= '0' && c <= '9');
  }

  private static Optional<ProcessStat> read(Path stat) {
    String text;
    try {
      text = Files.readString(stat);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      // A process reaped between open and read fails the read (ESRCH); its directory is gone.
      if (!Files.exists(stat.getParent())) {
        return Optional.empty();
      }
      throw new UncheckedIOException("cannot read " + stat, e);
    }
    return Optional.of(parse(text));
  }

  /**
   * Parses one stat line. The command name (field 2) is in parentheses and may itself hold spaces
   * and parentheses, so the fields after it are found from the last ')'.
   */
  static ProcessStat parse(String line) {
    int open = line.indexOf(" (");
    int close = line.lastIndexOf(')');
    if (open < 0 || close < open) {
      throw new IllegalArgumentException("not a /proc/PID/stat line: " + line);
    }
    String[] fields = line.substring(close + 1).trim().split(" ");
    // fields[0] is field 3, so field N is fields[N - 3].
    if (fields.length < 20 || fields[0].length() != 1) {
      throw new IllegalArgumentException("not a /proc/PID/stat line: " + line);
    }
    return new ProcessStat(
        Long.parseLong(line.substring(0, open)),
        fields[0].charAt(0),
        Long.parseLong(fields[1]),
        Long.parseLong(fields[2]),
        Long.parseLong(fields[19]));
  }
}
