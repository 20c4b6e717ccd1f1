package dev.weft.local;

/**
 * How a frame's type travels in the 32-bit message type id of an Agrona ring record.
 *
 * <pre>
 *   31            19 18 17 16 15                              0
 *  +----------------+--+--+--+---------------------------------+
 *  |   must be 0    |L |F |R |          frame type            |
 *  +----------------+--+--+--+---------------------------------+
 *   R = fragment of a frame larger than one record
 *   F = first fragment: its payload starts with the whole frame's length (int32, native order)
 *   L = last fragment
 * </pre>
 *
 * <p>A frame that fits one record carries no flags. A larger one is a run of records FR+F, R, R,
 * ..., R+L with the same frame type and nothing in between (one producer writes them in one go).
 * Agrona's padding records (type -1) have every high bit set and are told apart before this.
 */
final class FrameTypeDescriptor {
  static final int TYPE_MASK = 0xFFFF;
  static final int FRAGMENT = 1 << 16;
  static final int FIRST = 1 << 17;
  static final int LAST = 1 << 18;
  static final int FLAGS_MASK = ~TYPE_MASK;

  static final int FIRST_FRAGMENT_HEADER_LENGTH = Integer.BYTES;

  private FrameTypeDescriptor() {}

  static void checkType(int type) {
    if (type < 1 || type > FrameHandler.MAX_TYPE) {
      throw new IllegalArgumentException(
          "frame type " + type + " is not in [1, " + FrameHandler.MAX_TYPE + "]");
    }
  }
}
