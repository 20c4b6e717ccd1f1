package dev.weft.wire;

/**
 * How long a link's reader looks for the next frame before it sleeps, on both ends of a
 * shared-memory link. Waking a sleeping thread costs about 40 µs on a small VM, more than a tiny
 * task's whole round trip should, so a reader spins briefly and then yields the core (letting the
 * thread that will produce the next frame run) for about a hundred microseconds; an idle link
 * sleeps and costs nothing.
 */
public final class LinkWaits {
  public static final long SPIN_NS = 5_000;
  public static final int MAX_YIELDS = 200;

  private LinkWaits() {}
}
