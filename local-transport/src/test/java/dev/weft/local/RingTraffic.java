package dev.weft.local;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * The frames both processes of the stress test agree on without talking: frame i's type, length and
 * bytes follow from a seed, so the reader checks every byte it gets.
 */
final class RingTraffic {
  static final int END_TYPE = 60;
  private static final int POOL_LENGTH = 1 << 20;

  private final ByteBuffer pool;
  private final SplittableRandom sizes;
  private final int maxRecord;
  private final int maxFrame;

  RingTraffic(long seed, int maxRecord, int maxFrame) {
    byte[] bytes = new byte[POOL_LENGTH];
    new SplittableRandom(seed).nextBytes(bytes);
    this.pool = ByteBuffer.wrap(bytes).asReadOnlyBuffer();
    this.sizes = new SplittableRandom(seed ^ 0x5DEECE66DL);
    this.maxRecord = maxRecord;
    this.maxFrame = maxFrame;
  }

  static int type(long index) {
    return 1 + (int) (index % (END_TYPE - 1));
  }

  /** The next frame's length: mostly small, some up to a record, a few fragmented. */
  int nextLength() {
    int dice = sizes.nextInt(100);
    if (dice < 70) {
      return sizes.nextInt(65);
    }
    if (dice < 95) {
      return sizes.nextInt(65, 2049);
    }
    if (dice < 99) {
      return sizes.nextInt(2049, maxRecord + 1);
    }
    return sizes.nextInt(maxRecord + 1, maxFrame + 1);
  }

  /** Frame {@code index}'s payload of {@code length} bytes: a slice of the pool. */
  ByteBuffer payload(long index, int length) {
    int offset = (int) ((index * 7919) % (POOL_LENGTH - length));
    return pool.slice(offset, length);
  }
}
