package dev.weft.local;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Keeps a mapping alive while one thread uses a ring endpoint through raw addresses (Agrona's
 * UnsafeBuffer bypasses the arena's own checks, so unmapping under it would crash the JVM rather
 * than throw). {@link #close()} never waits: if the endpoint is busy, the thread in it runs the
 * drain callback on its way out, which lets a frame handler close its own segment.
 *
 * <p>It also catches a second thread entering a single-threaded endpoint, and a handler re-entering
 * the receiver that called it.
 */
final class EndpointGuard {
  private static final int OPEN = 0;
  private static final int BUSY = 1;
  private static final int CLOSED = 2;
  private static final int CLOSED_BUSY = 3;
  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(EndpointGuard.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final String name;
  private final Runnable onDrainedAfterClose;

  @SuppressWarnings("unused") // accessed through STATE
  private volatile int state;

  EndpointGuard(String name, Runnable onDrainedAfterClose) {
    this.name = name;
    this.onDrainedAfterClose = onDrainedAfterClose;
  }

  boolean tryEnter() {
    return STATE.compareAndSet(this, OPEN, BUSY);
  }

  void enter() {
    if (!tryEnter()) {
      int current = state;
      throw new IllegalStateException(
          current == BUSY
              ? name + " is already in use: one thread at a time, and not from its own handler"
              : name + " is closed");
    }
  }

  void exit() {
    if (!STATE.compareAndSet(this, BUSY, OPEN)) {
      // Closed while we were inside: we are the last user of the mapping on this side.
      state = CLOSED;
      onDrainedAfterClose.run();
    }
  }

  /** Marks the endpoint closed; true when nobody was inside, so the caller counts it drained. */
  boolean close() {
    while (true) {
      int current = state;
      if (current == OPEN && STATE.compareAndSet(this, OPEN, CLOSED)) {
        return true;
      }
      if (current == BUSY && STATE.compareAndSet(this, BUSY, CLOSED_BUSY)) {
        return false;
      }
      if (current >= CLOSED) {
        return false;
      }
    }
  }

  boolean isClosed() {
    return state >= CLOSED;
  }
}
