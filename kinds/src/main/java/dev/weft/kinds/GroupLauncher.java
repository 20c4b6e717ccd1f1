package dev.weft.kinds;

import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line that starts an exec task as the leader of a process group (and session) of its
 * own: {@code setpriv --pdeathsig KILL -- setsid -- ARGV...}, both from util-linux. Both exec in
 * place, so the pid Java starts is the task's pid and its process group id. setpriv has the kernel
 * SIGKILL the leader when the thread that started it dies, so a worker killed outright takes its
 * tasks' leaders with it.
 */
final class GroupLauncher {
  private static final System.Logger LOG = System.getLogger(GroupLauncher.class.getName());

  /** Where util-linux lives when the worker's own PATH is thin (a service manager's, say). */
  static final String SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin";

  static final String NO_SETSID =
      "setsid is not installed on this worker; exec tasks need it (install util-linux)";

  private final Path setpriv; // null when not installed
  private final Path setsid; // null when not installed

  private GroupLauncher(Path setpriv, Path setsid) {
    this.setpriv = setpriv;
    this.setsid = setsid;
  }

  /**
   * This JVM's launcher, found on its PATH and then in the system directories the first time it is
   * asked for.
   */
  static GroupLauncher systemDefault() {
    return SystemDefault.LAUNCHER;
  }

  /** Finds setpriv and setsid on {@code searchPath}, and says (once per call) what is missing. */
  static GroupLauncher find(String searchPath) {
    Path setpriv = lookUp("setpriv", searchPath);
    Path setsid = lookUp("setsid", searchPath);
    if (setsid == null) {
      LOG.log(System.Logger.Level.WARNING, NO_SETSID);
    } else if (setpriv == null) {
      LOG.log(
          System.Logger.Level.WARNING,
          "setpriv is not installed (it comes with util-linux): exec tasks still run in process"
              + " groups of their own, but those of a worker killed with SIGKILL keep running until"
              + " the next worker on this host sweeps them");
    }
    return new GroupLauncher(setpriv, setsid);
  }

  private static String withSystemPath(String searchPath) {
    return searchPath == null || searchPath.isEmpty()
        ? SYSTEM_PATH
        : searchPath + ":" + SYSTEM_PATH;
  }

  private static Path lookUp(String program, String searchPath) {
    try {
      return ProgramLookup.resolve(program, searchPath, Path.of("").toAbsolutePath());
    } catch (NoSuchFileException | AccessDeniedException e) {
      return null;
    }
  }

  /** False when setsid is missing, and no task can be started in a group of its own. */
  boolean canLaunch() {
    return setsid != null;
  }

  boolean setsParentDeathSignal() {
    return setpriv != null;
  }

  /**
   * The command that runs {@code argv} as a group leader. setsid looks {@code argv[0]} up on the
   * task's PATH, as the task's own execvp would.
   *
   * @throws IllegalStateException if setsid is missing ({@link #canLaunch()} is false)
   */
  List<String> command(List<String> argv) {
    if (setsid == null) {
      throw new IllegalStateException(NO_SETSID);
    }
    List<String> command = new ArrayList<>(argv.size() + 6);
    if (setpriv != null) {
      command.addAll(List.of(setpriv.toString(), "--pdeathsig", "KILL", "--"));
    }
    command.add(setsid.toString());
    // "--" so that a program whose name starts with '-' is not read as an option.
    command.add("--");
    command.addAll(argv);
    return command;
  }

  private static final class SystemDefault {
    // Found on first use: the coordinator loads ExecKind too, but never runs a task.
    static final GroupLauncher LAUNCHER = find(withSystemPath(System.getenv("PATH")));
  }
}
