package dev.weft.wire;

/**
 * How long a link's reader looks for the next frame before it sleeps, on both ends of a
 * shared-memory link. Waking a sleeping thread costs tens of microseconds on a small VM, more than
 * a tiny task's whole round trip should, so a reader first yields the core (letting the thread that
 * will produce the next frame run) for about a hundred microseconds; an idle link sleeps and costs
 * nothing.
 *
 * <p>Spinning before the yields pays only where a spinning reader does not take the core from the
 * very threads it waits for: with fewer than four CPUs it did (on two vCPUs, `weft bench` shm round
 * trips took a median 19.7 µs with a 5 µs spin and 13.4 µs without, three runs each).
 */
public final class LinkWaits {
  public static final long SPIN_NS = Runtime.getRuntime().availableProcessors() >= 4 ? 5_000 : 0;
  public static final int MAX_YIELDS = 200;

  private LinkWaits() {}
}
