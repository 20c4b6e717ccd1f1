package dev.weft.kinds;

import java.math.BigInteger;
import java.nio.ByteBuffer;

/**
 * A signed 128-bit accumulator: exact for any sum one task can make (at most 2^64 longs, so the
 * magnitude stays below 2^127).
 */
final class Int128 {
  private long high;
  private long low;

  void add(long value) {
    long sum = low + value;
    // value sign-extended to 128 bits is (value >> 63, value); the carry is the unsigned overflow
    // of the low words.
    high += (value >> 63) + (Long.compareUnsigned(sum, low) < 0 ? 1 : 0);
    low = sum;
  }

  long high() {
    return high;
  }

  long low() {
    return low;
  }

  static BigInteger toBigInteger(long high, long low) {
    return new BigInteger(ByteBuffer.allocate(16).putLong(high).putLong(low).array());
  }
}
