package dev.weft.posix;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * futex(2) wait and wake on a 32-bit word, through {@code syscall(SYS_futex, ...)}.
 *
 * <p>Uses FUTEX_WAIT and FUTEX_WAKE, not the _PRIVATE variants: the words live in a shared mapping
 * and the waiter and the waker are different processes, which only the shared variants match up
 * (the kernel keys them by inode and offset instead of by address space).
 *
 * <p>A wait blocks the carrier thread in the kernel: call it from platform threads.
 */
public final class Futex {
  /** How a wait ended. None of these is an error. */
  public enum WaitResult {
    /** A FUTEX_WAKE on the word (or a spurious wake-up: re-check the condition). */
    WOKEN,
    /** The timeout passed. */
    TIMED_OUT,
    /** EAGAIN: the word did not hold the expected value, so there was nothing to wait for. */
    VALUE_CHANGED,
    /** EINTR: a signal handler ran. */
    INTERRUPTED
  }

  private static final int FUTEX_WAIT = 0;
  private static final int FUTEX_WAKE = 1;
  private static final long NANOS_PER_SECOND = 1_000_000_000L;

  /** The futex syscall number differs between the architectures we run on. */
  static final long SYS_FUTEX =
      switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 202;
        case "aarch64", "arm64" -> 98;
        default -> -1;
      };

  // long syscall(long number, ...): every variadic argument passed as a full register.
  private static final MethodHandle SYSCALL =
      Libc.downcallWithErrno(
          "syscall",
          FunctionDescriptor.of(
              JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG),
          Linker.Option.firstVariadicArg(1));

  private Futex() {}

  /** True on the architectures whose futex syscall number we know. */
  public static boolean isSupported() {
    return SYS_FUTEX > 0 && "Linux".equals(System.getProperty("os.name"));
  }

  /**
   * Sleeps while {@code word} holds {@code expected}, for at most {@code timeoutNs} (always
   * bounded, so a waker that died cannot hang the caller).
   */
  public static WaitResult await(MemorySegment word, int expected, long timeoutNs) {
    checkWord(word);
    if (timeoutNs <= 0) {
      return WaitResult.TIMED_OUT;
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment timeout = arena.allocate(JAVA_LONG, 2);
      timeout.setAtIndex(JAVA_LONG, 0, timeoutNs / NANOS_PER_SECOND);
      timeout.setAtIndex(JAVA_LONG, 1, timeoutNs % NANOS_PER_SECOND);
      MemorySegment state = Libc.allocateCallState(arena);
      long rc =
          (long)
              SYSCALL.invokeExact(
                  state,
                  checkedSyscallNumber(),
                  word,
                  (long) FUTEX_WAIT,
                  (long) expected,
                  timeout,
                  MemorySegment.NULL,
                  0L);
      if (rc == 0) {
        return WaitResult.WOKEN;
      }
      int errno = Libc.errno(state);
      return switch (errno) {
        case Libc.EAGAIN -> WaitResult.VALUE_CHANGED;
        case Libc.ETIMEDOUT -> WaitResult.TIMED_OUT;
        case Libc.EINTR -> WaitResult.INTERRUPTED;
        default -> throw new IllegalStateException("futex wait failed with errno " + errno);
      };
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("futex downcall failed", t);
    }
  }

  /** Wakes up to {@code count} waiters on {@code word}; returns how many were woken. */
  public static int wake(MemorySegment word, int count) {
    checkWord(word);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = Libc.allocateCallState(arena);
      long rc =
          (long)
              SYSCALL.invokeExact(
                  state,
                  checkedSyscallNumber(),
                  word,
                  (long) FUTEX_WAKE,
                  (long) count,
                  MemorySegment.NULL,
                  MemorySegment.NULL,
                  0L);
      if (rc < 0) {
        throw new IllegalStateException("futex wake failed with errno " + Libc.errno(state));
      }
      return (int) rc;
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("futex downcall failed", t);
    }
  }

  private static long checkedSyscallNumber() {
    if (SYS_FUTEX <= 0) {
      throw new UnsupportedOperationException(
          "futex is not supported on " + System.getProperty("os.arch"));
    }
    return SYS_FUTEX;
  }

  private static void checkWord(MemorySegment word) {
    if (!word.isNative() || word.byteSize() < Integer.BYTES || (word.address() & 3) != 0) {
      throw new IllegalArgumentException(
          "a futex word must be 4 native, 4-byte aligned bytes: " + word);
    }
  }
}
