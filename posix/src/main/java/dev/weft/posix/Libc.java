package dev.weft.posix;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Linking C library functions with {@code errno} captured by the linker, since reading errno with
 * another downcall afterwards would see whatever the JVM did in between. Linux only; the errno
 * values are those of asm-generic, shared by x86_64 and aarch64.
 */
final class Libc {
  static final int EPERM = 1;
  static final int ESRCH = 3;
  static final int EINTR = 4;
  static final int EAGAIN = 11;
  static final int EINVAL = 22;
  static final int ETIMEDOUT = 110;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

  private Libc() {}

  /**
   * A handle whose first parameter is the capture segment (from {@link #allocateCallState}),
   * followed by the parameters of {@code descriptor}.
   */
  @SuppressWarnings("restricted") // native access is enabled for the module's users
  static MethodHandle downcallWithErrno(
      String name, FunctionDescriptor descriptor, Linker.Option... options) {
    MemorySegment symbol =
        LINKER
            .defaultLookup()
            .find(name)
            .orElseThrow(() -> new UnsupportedOperationException("libc has no " + name));
    Linker.Option[] all = new Linker.Option[options.length + 1];
    System.arraycopy(options, 0, all, 0, options.length);
    all[options.length] = Linker.Option.captureCallState("errno");
    return LINKER.downcallHandle(symbol, descriptor, all);
  }

  static MemorySegment allocateCallState(Arena arena) {
    return arena.allocate(CAPTURE_LAYOUT);
  }

  static int errno(MemorySegment callState) {
    return (int) ERRNO.get(callState, 0L);
  }
}
