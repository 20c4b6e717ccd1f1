package dev.weft.local;

import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.HEAD_POSITION_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TAIL_POSITION_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TRAILER_LENGTH;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.agrona.BitUtil;
import org.agrona.concurrent.ringbuffer.RecordDescriptor;

/**
 * Byte layout of a weft shared-memory segment: a header, then two Agrona one-to-one rings, one per
 * direction. "Creator" is the side that made the file (the coordinator), "attacher" the side that
 * mapped it afterwards (the worker). All values are in the host's native byte order.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+  0  written once by the
 *  |                         Magic (64 bits)                       |     creator; magic last
 *  +-------------------------------+-------------------------------+
 *  |  Layout version (major<<16|mn) |        Header length          |
 *  +-------------------------------+-------------------------------+
 *  |                      Total length (64 bits)                   |
 *  +-------------------------------+-------------------------------+
 *  | Ring capacity creator->attach | Ring capacity attach->creator |
 *  +-------------------------------+-------------------------------+
 *  |       Max frame length        |          (padding)           ...
 *  +---------------------------------------------------------------+ 128
 *  |      Creator pid (64)  |  Creator start time, epoch ms (64)   ...  creator, once
 *  +---------------------------------------------------------------+ 256
 *  |     Attacher pid (64)  | Attacher start time, epoch ms (64)   ...  attacher, once (CAS)
 *  +---------------------------------------------------------------+ 384
 *  |              Creator heartbeat, epoch ms (64)                ...  creator
 *  +---------------------------------------------------------------+ 512
 *  |              Attacher heartbeat, epoch ms (64)               ...  attacher
 *  +---------------------------------------------------------------+ 640
 *  |                   Creator closed flag (32)                   ...  creator
 *  +---------------------------------------------------------------+ 768
 *  |                   Attacher closed flag (32)                  ...  attacher
 *  +---------------------------------------------------------------+ 896
 *  |   Nonce length (32)    |        Nonce (up to 64 bytes)       ...  creator
 *  +---------------------------------------------------------------+ 1024
 *  |        Wake word, ring creator->attacher (32, futex)         ...  creator (producer)
 *  +---------------------------------------------------------------+ 1152
 *  |        Sleeping flag, ring creator->attacher (32)            ...  attacher (consumer)
 *  +---------------------------------------------------------------+ 1280
 *  |        Wake word, ring attacher->creator (32, futex)         ...  attacher (producer)
 *  +---------------------------------------------------------------+ 1408
 *  |        Sleeping flag, ring attacher->creator (32)            ...  creator (consumer)
 *  +---------------------------------------------------------------+ 1536 = HEADER_LENGTH
 *  |     Ring creator->attacher: capacity + Agrona trailer         ...
 *  +---------------------------------------------------------------+
 *  |     Ring attacher->creator: capacity + Agrona trailer         ...
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * <p>Each field written by one process sits alone in a {@link #SLOT_LENGTH}-byte slot (two cache
 * lines, against the adjacent-line prefetcher), so the two processes never write the same line.
 */
final class SegmentDescriptor {
  static final long MAGIC = 0x314D_4853_5446_4557L; // "WEFTSHM1" in little-endian bytes
  static final int VERSION_MAJOR = 1;
  static final int VERSION_MINOR = 0;
  static final int VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR;

  static final int SLOT_LENGTH = BitUtil.CACHE_LINE_LENGTH * 2;
  static final int MAX_NONCE_LENGTH = 64;
  static final int MIN_RING_CAPACITY = 4096;
  static final int MAX_RING_CAPACITY = 1 << 28;

  static final int MAGIC_OFFSET = 0;
  static final int VERSION_OFFSET = MAGIC_OFFSET + Long.BYTES;
  static final int HEADER_LENGTH_OFFSET = VERSION_OFFSET + Integer.BYTES;
  static final int TOTAL_LENGTH_OFFSET = HEADER_LENGTH_OFFSET + Integer.BYTES;
  static final int CAPACITY_TO_ATTACHER_OFFSET = TOTAL_LENGTH_OFFSET + Long.BYTES;
  static final int CAPACITY_TO_CREATOR_OFFSET = CAPACITY_TO_ATTACHER_OFFSET + Integer.BYTES;
  static final int MAX_FRAME_LENGTH_OFFSET = CAPACITY_TO_CREATOR_OFFSET + Integer.BYTES;

  static final int CREATOR_PID_OFFSET = SLOT_LENGTH;
  static final int CREATOR_START_OFFSET = CREATOR_PID_OFFSET + Long.BYTES;
  static final int ATTACHER_PID_OFFSET = CREATOR_PID_OFFSET + SLOT_LENGTH;
  static final int ATTACHER_START_OFFSET = ATTACHER_PID_OFFSET + Long.BYTES;
  static final int CREATOR_HEARTBEAT_OFFSET = ATTACHER_PID_OFFSET + SLOT_LENGTH;
  static final int ATTACHER_HEARTBEAT_OFFSET = CREATOR_HEARTBEAT_OFFSET + SLOT_LENGTH;
  static final int CREATOR_CLOSED_OFFSET = ATTACHER_HEARTBEAT_OFFSET + SLOT_LENGTH;
  static final int ATTACHER_CLOSED_OFFSET = CREATOR_CLOSED_OFFSET + SLOT_LENGTH;
  static final int NONCE_LENGTH_OFFSET = ATTACHER_CLOSED_OFFSET + SLOT_LENGTH;
  static final int NONCE_OFFSET = NONCE_LENGTH_OFFSET + Integer.BYTES;
  static final int WAKE_TO_ATTACHER_OFFSET = NONCE_LENGTH_OFFSET + SLOT_LENGTH;
  static final int SLEEPING_TO_ATTACHER_OFFSET = WAKE_TO_ATTACHER_OFFSET + SLOT_LENGTH;
  static final int WAKE_TO_CREATOR_OFFSET = SLEEPING_TO_ATTACHER_OFFSET + SLOT_LENGTH;
  static final int SLEEPING_TO_CREATOR_OFFSET = WAKE_TO_CREATOR_OFFSET + SLOT_LENGTH;
  static final int HEADER_LENGTH = SLEEPING_TO_CREATOR_OFFSET + SLOT_LENGTH;

  static final int RING_TO_ATTACHER_OFFSET = HEADER_LENGTH;

  // Coordinates (MemorySegment, long offset); accesses are bounds- and liveness-checked.
  static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
  static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

  static {
    if (NONCE_OFFSET + MAX_NONCE_LENGTH > WAKE_TO_ATTACHER_OFFSET
        || ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new ExceptionInInitializerError("segment layout does not fit this platform");
    }
  }

  private SegmentDescriptor() {}

  /** Offset of the ring the attacher writes, after the creator's ring. */
  static long ringToCreatorOffset(int capacityToAttacher) {
    return (long) RING_TO_ATTACHER_OFFSET + capacityToAttacher + TRAILER_LENGTH;
  }

  static long totalLength(int capacityToAttacher, int capacityToCreator) {
    return ringToCreatorOffset(capacityToAttacher) + capacityToCreator + TRAILER_LENGTH;
  }

  /** The largest record payload Agrona's ring takes for a capacity (it allows one eighth). */
  static int maxRecordPayload(int capacity) {
    return capacity >> 3;
  }

  /** Frames up to this length always fit once the ring drains, however they are fragmented. */
  static int maxFrameLengthLimit(int capacity) {
    return capacity / 2;
  }

  static boolean isValidRingCapacity(int capacity) {
    return BitUtil.isPowerOfTwo(capacity)
        && capacity >= MIN_RING_CAPACITY
        && capacity <= MAX_RING_CAPACITY;
  }

  /** What attach and the sweeper learn from a header that passed {@link #parse}. */
  record Header(
      int version,
      long totalLength,
      int capacityToAttacher,
      int capacityToCreator,
      int maxFrameLength,
      long creatorPid,
      long creatorStartMs,
      boolean creatorClosed) {}

  /**
   * Validates a header copied out of (or mapped from) the file at {@code path}, of {@code fileSize}
   * bytes. Every field is checked before it is used to compute an offset.
   *
   * @throws SegmentFormatException naming the file and the field that is wrong
   */
  static Header parse(MemorySegment header, long fileSize, Path path)
      throws SegmentFormatException {
    if (fileSize < HEADER_LENGTH || header.byteSize() < HEADER_LENGTH) {
      throw new SegmentFormatException(
          "segment "
              + path
              + " is too small: "
              + fileSize
              + " bytes, the header alone needs "
              + HEADER_LENGTH);
    }
    long magic = (long) LONG.getAcquire(header, (long) MAGIC_OFFSET);
    if (magic != MAGIC) {
      throw new SegmentFormatException(
          String.format(
              "segment %s has magic 0x%016x, expected 0x%016x: not a weft segment, or not"
                  + " initialised yet",
              path, magic, MAGIC));
    }
    int version = (int) INT.get(header, (long) VERSION_OFFSET);
    if ((version >>> 16) != VERSION_MAJOR) {
      throw new SegmentFormatException(
          "segment "
              + path
              + " has layout version "
              + (version >>> 16)
              + "."
              + (version & 0xFFFF)
              + "; this build reads version "
              + VERSION_MAJOR
              + ".x");
    }
    int headerLength = (int) INT.get(header, (long) HEADER_LENGTH_OFFSET);
    if (headerLength != HEADER_LENGTH) {
      throw new SegmentFormatException(
          "segment "
              + path
              + " has header length "
              + headerLength
              + ", layout version "
              + VERSION_MAJOR
              + " has "
              + HEADER_LENGTH);
    }
    int toAttacher = (int) INT.get(header, (long) CAPACITY_TO_ATTACHER_OFFSET);
    int toCreator = (int) INT.get(header, (long) CAPACITY_TO_CREATOR_OFFSET);
    checkCapacity(path, toAttacher, "creator->attacher");
    checkCapacity(path, toCreator, "attacher->creator");
    long totalLength = (long) LONG.get(header, (long) TOTAL_LENGTH_OFFSET);
    long expected = totalLength(toAttacher, toCreator);
    if (totalLength != expected) {
      throw new SegmentFormatException(
          "segment "
              + path
              + " has total length "
              + totalLength
              + ", but its header and rings take "
              + expected);
    }
    if (fileSize != totalLength) {
      throw new SegmentFormatException(
          "segment " + path + " says it is " + totalLength + " bytes but the file is " + fileSize);
    }
    int maxFrameLength = (int) INT.get(header, (long) MAX_FRAME_LENGTH_OFFSET);
    int limit = maxFrameLengthLimit(Math.min(toAttacher, toCreator));
    if (maxFrameLength < 0 || maxFrameLength > limit) {
      throw new SegmentFormatException(
          "segment "
              + path
              + " has max frame length "
              + maxFrameLength
              + ", not in [0, "
              + limit
              + "]");
    }
    return new Header(
        version,
        totalLength,
        toAttacher,
        toCreator,
        maxFrameLength,
        (long) LONG.getAcquire(header, (long) CREATOR_PID_OFFSET),
        (long) LONG.getAcquire(header, (long) CREATOR_START_OFFSET),
        (int) INT.getAcquire(header, (long) CREATOR_CLOSED_OFFSET) != 0);
  }

  /**
   * Checks the positions in a ring's trailer before anyone trusts them: both 8-aligned, head not
   * past tail, and no more than a ring's worth of bytes between them.
   */
  static void checkRingPositions(MemorySegment ring, int capacity, String name, Path path)
      throws SegmentFormatException {
    long head = (long) LONG.getVolatile(ring, (long) capacity + HEAD_POSITION_OFFSET);
    long tail = (long) LONG.getVolatile(ring, (long) capacity + TAIL_POSITION_OFFSET);
    int alignment = RecordDescriptor.ALIGNMENT;
    if (head < 0
        || tail < head
        || tail - head > capacity
        || head % alignment != 0
        || tail % alignment != 0) {
      throw new SegmentFormatException(
          "segment "
              + path
              + ": ring "
              + name
              + " has head "
              + head
              + " and tail "
              + tail
              + ", which no producer of a ring of "
              + capacity
              + " bytes can leave");
    }
  }

  private static void checkCapacity(Path path, int capacity, String name)
      throws SegmentFormatException {
    if (!isValidRingCapacity(capacity)) {
      throw new SegmentFormatException(
          "segment "
              + path
              + ": ring "
              + name
              + " has capacity "
              + capacity
              + ", not a power of two in ["
              + MIN_RING_CAPACITY
              + ", "
              + MAX_RING_CAPACITY
              + "]");
    }
  }
}
