package dev.weft.kinds;

/**
 * The SplitMix64 generator, written out rather than borrowed from {@link
 * java.util.SplittableRandom} so that a seed gives the same numbers on every worker whatever its
 * JDK.
 */
final class SplitMix64 {
  private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

  private long state;

  SplitMix64(long seed) {
    this.state = seed;
  }

  long nextLong() {
    state += GOLDEN_GAMMA;
    return mix(state);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  double nextDouble() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  /** The seed of stream {@code index} derived from {@code seed}: distinct, well mixed streams. */
  static long streamSeed(long seed, long index) {
    return mix(seed + (index + 1) * GOLDEN_GAMMA);
  }

  // Stafford's variant 13 finaliser, as in SplittableRandom.
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
