package dev.weft.posix;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.OptionalLong;

/**
 * Sending signals with kill(2) and asking for process groups with getpgid(2), through the FFM API.
 *
 * <p>A process that is gone is an answer ({@link Result#NO_SUCH_PROCESS}), not an error: the
 * callers race with exiting processes all the time. Pids that kill(2) would read as "every process"
 * or "my own group" (0, -1, negatives) are refused, so a bug cannot signal the wrong processes.
 *
 * <p>Signal numbers are those of Linux on x86_64 and aarch64.
 */
public final class Signals {
  public static final int SIGINT = 2;
  public static final int SIGKILL = 9;
  public static final int SIGTERM = 15;
  public static final int SIGCONT = 18;
  public static final int SIGSTOP = 19;

  /** What kill(2) said. */
  public enum Result {
    /** The signal was sent (for signal 0: the process exists and we may signal it). */
    SENT,
    /** ESRCH: no such process or process group (any more). */
    NO_SUCH_PROCESS,
    /** EPERM: the process exists but belongs to someone we may not signal. */
    NOT_PERMITTED
  }

  private static final MethodHandle KILL =
      Libc.downcallWithErrno("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle GETPGID =
      Libc.downcallWithErrno("getpgid", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

  private Signals() {}

  /**
   * Sends {@code signal} to one process; signal 0 only checks that it exists.
   *
   * @throws IllegalArgumentException if pid is not a positive pid or the signal is not valid
   */
  public static Result kill(long pid, int signal) {
    return send(checkPid(pid, "pid"), signal);
  }

  /**
   * Sends {@code signal} to every process in group {@code pgid} (kill(-pgid, signal)). Signalling
   * the caller's own group is refused: a child that failed to get a group of its own would
   * otherwise take the worker down with it.
   *
   * @throws IllegalArgumentException if pgid is not positive, is this process's own group, or the
   *     signal is not valid
   */
  public static Result killProcessGroup(long pgid, int signal) {
    int group = checkPid(pgid, "process group");
    OptionalLong own = processGroupOf(ProcessHandle.current().pid());
    if (own.isPresent() && own.getAsLong() == group) {
      throw new IllegalArgumentException(
          "refusing to signal process group " + group + ": it is this process's own group");
    }
    return send(-group, signal);
  }

  /** The process group of {@code pid}, or empty when there is no such process. */
  public static OptionalLong processGroupOf(long pid) {
    int checked = checkPid(pid, "pid");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = Libc.allocateCallState(arena);
      int pgid = (int) GETPGID.invokeExact(state, checked);
      if (pgid >= 0) {
        return OptionalLong.of(pgid);
      }
      int errno = Libc.errno(state);
      if (errno == Libc.ESRCH) {
        return OptionalLong.empty();
      }
      throw new IllegalStateException("getpgid(" + checked + ") failed with errno " + errno);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("getpgid downcall failed", t);
    }
  }

  private static Result send(int target, int signal) {
    if (signal < 0 || signal > 64) {
      throw new IllegalArgumentException("signal " + signal + " is not in [0, 64]");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = Libc.allocateCallState(arena);
      int rc = (int) KILL.invokeExact(state, target, signal);
      if (rc == 0) {
        return Result.SENT;
      }
      int errno = Libc.errno(state);
      return switch (errno) {
        case Libc.ESRCH -> Result.NO_SUCH_PROCESS;
        case Libc.EPERM -> Result.NOT_PERMITTED;
        case Libc.EINVAL -> throw new IllegalArgumentException("invalid signal " + signal);
        default ->
            throw new IllegalStateException(
                "kill(" + target + ", " + signal + ") failed with errno " + errno);
      };
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("kill downcall failed", t);
    }
  }

  private static int checkPid(long pid, String what) {
    if (pid <= 0 || pid > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(what + " " + pid + " is not a positive pid");
    }
    return (int) pid;
  }
}
