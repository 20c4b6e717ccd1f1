package dev.weft.kinds;

import java.util.Arrays;

/**
 * Counts primes in a range with a segmented sieve of Eratosthenes over odd numbers: base primes up
 * to the square root of the range's end, then one fixed-size bit segment at a time.
 */
final class PrimeSieve {
  /** The largest range end accepted: its base primes (up to about 3.2e7) take a moment to sieve. */
  static final long MAX_TO = 1_000_000_000_000_000L;

  // 256 KiB of bits per segment, one bit per odd number: fits in L2 and bounds memory per task.
  private static final int SEGMENT_WORDS = 256 * 1024 / Long.BYTES;
  private static final int SEGMENT_BITS = SEGMENT_WORDS * Long.SIZE;
  // Base primes marked between cancellation checks (a power of two).
  private static final int PRIMES_PER_CHECK = 1 << 12;

  private PrimeSieve() {}

  /** The number of primes in {@code [from, to]}; {@code to <= MAX_TO}. Checks cancellation. */
  static long count(long from, long to, TaskContext context) throws InterruptedException {
    if (to > MAX_TO) {
      throw new IllegalArgumentException("to must be <= " + MAX_TO + " (got " + to + ")");
    }
    long low = Math.max(from, 2);
    if (low > to) {
      return 0;
    }
    long count = low == 2 ? 1 : 0;
    long first = Math.max(low, 3) | 1;
    if (first > to) {
      return count;
    }
    int[] primes = oddPrimesUpTo((int) sqrtFloor(to), context);
    long[] bits = new long[SEGMENT_WORDS];
    for (long start = first; start <= to; start += 2L * SEGMENT_BITS) {
      context.checkCancelled();
      long end = Math.min(to, start + 2L * (SEGMENT_BITS - 1));
      int odds = (int) ((end - start) / 2 + 1);
      int words = (odds + Long.SIZE - 1) / Long.SIZE;
      Arrays.fill(bits, 0, words, 0L);
      for (int k = 0; k < primes.length; k++) {
        // Near MAX_TO a segment meets about two million base primes, tens of milliseconds' work.
        if ((k & (PRIMES_PER_CHECK - 1)) == PRIMES_PER_CHECK - 1) {
          context.checkCancelled();
        }
        int p = primes[k];
        long square = (long) p * p;
        if (square > end) {
          break;
        }
        long multiple = Math.max(square, Math.ceilDiv(start, p) * p);
        if ((multiple & 1) == 0) {
          multiple += p;
        }
        // Consecutive odd multiples of p are 2p apart, which is p bits apart.
        for (int bit = (int) ((multiple - start) >>> 1); bit < odds; bit += p) {
          bits[bit >>> 6] |= 1L << bit;
        }
      }
      int composites = 0;
      for (int w = 0; w < words; w++) {
        composites += Long.bitCount(bits[w]);
      }
      count += odds - composites;
    }
    return count;
  }

  /** The odd primes up to {@code limit}, ascending. Checks cancellation once per sieving prime. */
  static int[] oddPrimesUpTo(int limit, TaskContext context) throws InterruptedException {
    if (limit < 3) {
      return new int[0];
    }
    // Bit i stands for 2i + 1; set means composite (or 1, or past the limit).
    int size = (limit - 1) / 2 + 1;
    long[] composite = new long[(size + Long.SIZE - 1) / Long.SIZE];
    composite[0] = 1L;
    for (int i = 1; ; i++) {
      long p = 2L * i + 1;
      if (p * p > limit) {
        break;
      }
      if ((composite[i >>> 6] & (1L << i)) == 0) {
        // The longest pass, p = 3, marks a third of the bits: a few milliseconds near MAX_TO.
        context.checkCancelled();
        for (long j = (p * p - 1) / 2; j < size; j += p) {
          composite[(int) (j >>> 6)] |= 1L << j;
        }
      }
    }
    if (size % Long.SIZE != 0) {
      composite[composite.length - 1] |= -1L << size;
    }
    // A word at a time, not a bit at a time: near MAX_TO there are 16 million bits.
    int found = 0;
    for (long word : composite) {
      found += Long.bitCount(~word);
    }
    int[] primes = new int[found];
    int next = 0;
    for (int w = 0; w < composite.length; w++) {
      for (long prime = ~composite[w]; prime != 0; prime &= prime - 1) {
        primes[next++] = 2 * (w * Long.SIZE + Long.numberOfTrailingZeros(prime)) + 1;
      }
    }
    return primes;
  }

  /** The largest r with r * r <= n, for n >= 0; the double estimate can be off by one. */
  static long sqrtFloor(long n) {
    long r = (long) Math.sqrt((double) n);
    while (r > 0 && r > n / r) {
      r--;
    }
    while (r + 1 <= n / (r + 1)) {
      r++;
    }
    return r;
  }
}
