package dev.weft.kinds;

import dev.weft.posix.ProcessStat;
import dev.weft.posix.Signals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which exec task process groups each worker on this host runs, so that the groups of a worker that
 * died without cleaning up (SIGKILL, the OOM killer) are killed by the next worker to start.
 *
 * <p>pdeathsig kills a task's leader with its worker, but not what the leader started. So while a
 * task runs, a file records its group:
 *
 * <pre>
 * ${XDG_RUNTIME_DIR:-/tmp}/weft-tasks-UID/     one per user, mode 0700, owned by that user
 *   WORKERPID-WORKERSTART/                     one per worker process
 *     PGID                                     one per running task: its leader's start time
 * </pre>
 *
 * Start times are field 22 of /proc/PID/stat, clock ticks since boot: with its start time a pid
 * names one process, even after the pid is reused.
 */
public final class TaskProcessGroups {
  private static final System.Logger LOG = System.getLogger(TaskProcessGroups.class.getName());
  // Bounded so that every match parses as a long (pids are below 2^22).
  private static final Pattern WORKER_DIR = Pattern.compile("(\\d{1,9})-(\\d{1,18})");
  private static final Pattern GROUP_FILE = Pattern.compile("\\d{1,9}");
  private static final Set<PosixFilePermission> OWNER_ONLY =
      PosixFilePermissions.fromString("rwx------");

  /** A recorded group; closing removes the record. */
  interface Registration extends AutoCloseable {
    Registration NONE = () -> {};

    @Override
    void close();
  }

  private final Path base;
  private final int uid;
  private final Path workerDir;
  private final AtomicBoolean warned = new AtomicBoolean();

  TaskProcessGroups(Path base, int uid, long workerPid, long workerStartTicks) {
    this.base = base;
    this.uid = uid;
    this.workerDir = base.resolve(workerPid + "-" + workerStartTicks);
  }

  /** The registry of this process's tasks, under {@link #defaultBase()}. */
  static TaskProcessGroups forThisProcess() {
    ProcessStat self = ProcessStat.self();
    int uid = currentUid();
    return new TaskProcessGroups(defaultBase(uid), uid, self.pid(), self.startTicks());
  }

  /**
   * Kills the recorded task process groups of every worker of this user on this host that is gone
   * (its pid is missing or started at another time), and removes their records. A group is killed
   * only if all its processes belong to this user and started no earlier than the recorded leader:
   * a pgid reused by an unrelated process is left alone. Problems are logged, never thrown.
   *
   * <p>Where tasks run in cgroups of their own ({@link TaskCgroups}), what dead workers left in
   * those is killed too, processes that left their task's group included.
   *
   * <p>A worker calls this when it starts.
   *
   * @return how many process groups (and task cgroups) were killed
   */
  public static int sweepOrphans() {
    int uid = currentUid();
    return sweepOrphans(defaultBase(uid), uid)
        + TaskCgroups.forThisProcess().map(TaskCgroups::sweepOrphans).orElse(0);
  }

  /**
   * SIGKILLs every task process group this process runs, at once and without a grace period: for a
   * worker told to stop a second time, which exits right after. Problems are logged, never thrown.
   *
   * @return how many process groups were killed
   */
  public static int killThisProcessTasks() {
    TaskCgroups.forThisProcess().ifPresent(TaskCgroups::killAll);
    TaskProcessGroups own = forThisProcess();
    if (!Files.isDirectory(own.workerDir, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    try {
      return sweepWorker(own.workerDir, ProcessStat.self().pid(), own.uid);
    } catch (IOException | UncheckedIOException | DirectoryIteratorException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot kill the task process groups under " + own.workerDir + ": " + e);
      return 0;
    }
  }

  static int sweepOrphans(Path base, int uid) {
    if (!Files.isDirectory(base, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    int killed = 0;
    try {
      checkBase(base, uid);
      try (DirectoryStream<Path> workers = Files.newDirectoryStream(base)) {
        for (Path worker : workers) {
          Matcher name = WORKER_DIR.matcher(worker.getFileName().toString());
          if (name.matches()
              && !ProcessStat.isRunning(
                  Long.parseLong(name.group(1)), Long.parseLong(name.group(2)))) {
            killed += sweepWorker(worker, Long.parseLong(name.group(1)), uid);
          }
        }
      }
    } catch (IOException | UncheckedIOException | DirectoryIteratorException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "cannot sweep the task process groups of dead workers under " + base + ": " + e);
    }
    return killed;
  }

  private static int sweepWorker(Path worker, long workerPid, int uid) throws IOException {
    int killed = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(worker)) {
      for (Path file : files) {
        String name = file.getFileName().toString();
        if (GROUP_FILE.matcher(name).matches()) {
          OptionalLong leaderStart = readTicks(file);
          if (leaderStart.isPresent()
              && killIfOurs(Long.parseLong(name), leaderStart.getAsLong(), uid, workerPid)) {
            killed++;
          }
        }
        Files.deleteIfExists(file);
      }
    } catch (NoSuchFileException e) {
      // Another worker starting at the same time swept it first.
      return killed;
    }
    deleteIfEmpty(worker);
    return killed;
  }

  private static OptionalLong readTicks(Path file) throws IOException {
    try {
      return OptionalLong.of(Long.parseLong(Files.readString(file).strip()));
    } catch (NumberFormatException | NoSuchFileException e) {
      return OptionalLong.empty();
    }
  }

  private static boolean killIfOurs(long pgid, long leaderStart, int uid, long workerPid) {
    List<ProcessStat> members = ProcessStat.liveMembersOf(pgid);
    if (members.isEmpty()) {
      return false;
    }
    for (ProcessStat member : members) {
      // The task's processes started with or after its leader; a process with the leader's pid
      // must be the leader itself, else the pid was reused.
      boolean ours =
          member.startTicks() >= leaderStart
              && (member.pid() != pgid || member.startTicks() == leaderStart)
              && ProcessStat.ownerUid(member.pid()).orElse(-1) == uid;
      if (!ours) {
        LOG.log(
            System.Logger.Level.INFO,
            "not killing process group "
                + pgid
                + " of dead worker "
                + workerPid
                + ": its process "
                + member.pid()
                + " is not one the task started");
        return false;
      }
    }
    if (ProcessStat.self().processGroup() == pgid) {
      return false;
    }
    boolean sent = Signals.killProcessGroup(pgid, Signals.SIGKILL) == Signals.Result.SENT;
    if (sent) {
      LOG.log(
          System.Logger.Level.WARNING,
          "killed process group "
              + pgid
              + " ("
              + members.size()
              + (members.size() == 1 ? " process" : " processes")
              + "), left running by an exec task of dead worker "
              + workerPid);
    }
    return sent;
  }

  /**
   * Records that group {@code pgid}, whose leader started at {@code leaderStartTicks}, runs a task
   * of this worker. A registry that cannot be written is a warning (once), not a failed task: the
   * task still runs, only without this safety net.
   */
  Registration register(long pgid, long leaderStartTicks) {
    Path file = workerDir.resolve(Long.toString(pgid));
    try {
      write(file, leaderStartTicks);
    } catch (IOException | UncheckedIOException e) {
      if (warned.compareAndSet(false, true)) {
        LOG.log(
            System.Logger.Level.WARNING,
            "cannot record exec task process groups under "
                + base
                + ": if this worker is killed, processes its tasks started may keep running: "
                + e);
      }
      return Registration.NONE;
    }
    return () -> remove(file);
  }

  private void write(Path file, long leaderStartTicks) throws IOException {
    try {
      Files.createDirectory(base, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    } catch (FileAlreadyExistsException e) {
      checkBase(base, uid);
    }
    Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
    for (int attempt = 1; ; attempt++) {
      Files.createDirectories(workerDir);
      try {
        // Written aside and renamed, so a sweep never reads half a record.
        Files.writeString(temporary, leaderStartTicks + "\n");
        Files.move(
            temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return;
      } catch (NoSuchFileException e) {
        // The last task's removal took the empty directory away in between: make it again.
        if (attempt == 3) {
          throw e;
        }
      }
    }
  }

  private void remove(Path file) {
    try {
      Files.deleteIfExists(file);
      deleteIfEmpty(workerDir);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot remove the task record " + file + ": " + e);
    }
  }

  private static void deleteIfEmpty(Path directory) throws IOException {
    try {
      Files.deleteIfExists(directory);
    } catch (DirectoryNotEmptyException e) {
      // Other tasks still run; the last one to end removes it.
    }
  }

  /**
   * Refuses a base directory another user could have planted or could write into: the sweep kills
   * what the records there name.
   */
  private static void checkBase(Path base, int uid) throws IOException {
    PosixFileAttributes attributes =
        Files.readAttributes(base, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    int owner = (Integer) Files.getAttribute(base, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    Set<PosixFilePermission> permissions = attributes.permissions();
    if (!attributes.isDirectory()
        || owner != uid
        || permissions.contains(PosixFilePermission.GROUP_WRITE)
        || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
      throw new IOException(
          base
              + " must be a directory owned by uid "
              + uid
              + " that only it can write (it is "
              + (attributes.isDirectory() ? "a directory" : "not a directory")
              + " owned by uid "
              + owner
              + ", mode "
              + PosixFilePermissions.toString(permissions)
              + ")");
    }
  }

  static Path defaultBase(int uid) {
    String runtime = System.getenv("XDG_RUNTIME_DIR");
    Path parent = runtime != null && runtime.startsWith("/") ? Path.of(runtime) : Path.of("/tmp");
    return parent.resolve("weft-tasks-" + uid);
  }

  private static int currentUid() {
    return ProcessStat.ownerUid(ProcessHandle.current().pid())
        .orElseThrow(() -> new IllegalStateException("this process is not in /proc"));
  }
}
