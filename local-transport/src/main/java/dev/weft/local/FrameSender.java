package dev.weft.local;

import static dev.weft.local.FrameTypeDescriptor.FIRST;
import static dev.weft.local.FrameTypeDescriptor.FIRST_FRAGMENT_HEADER_LENGTH;
import static dev.weft.local.FrameTypeDescriptor.FRAGMENT;
import static dev.weft.local.FrameTypeDescriptor.LAST;
import static org.agrona.concurrent.ringbuffer.RecordDescriptor.ALIGNMENT;
import static org.agrona.concurrent.ringbuffer.RecordDescriptor.HEADER_LENGTH;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.HEAD_POSITION_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TAIL_POSITION_OFFSET;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Objects;
import org.agrona.BitUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;

/**
 * The producing end of one ring in a {@link ShmSegment}: writes frames of a type in [1, {@link
 * FrameHandler#MAX_TYPE}] and a payload of up to {@link #maxFrameLength()} bytes.
 *
 * <p>A full ring is back-pressure: {@code offer} returns false and writes nothing; try again later.
 * A frame larger than one ring record ({@link #maxRecordLength()}) is split into fragments that are
 * written all together or not at all, so the receiver never sees half a frame from a live producer.
 *
 * <p>Single producer: one thread at a time (a second one gets an {@link IllegalStateException}).
 * Wakes the receiver's thread with a futex only when the receiver announced it was going to sleep.
 */
public final class FrameSender {
  private final OneToOneRingBuffer ring;
  private final UnsafeBuffer buffer;
  private final ByteBuffer view;
  private final int capacity;
  private final int maxRecordLength;
  private final int maxFrameLength;
  private final int headPositionIndex;
  private final int tailPositionIndex;
  private final Doorbell doorbell;
  private final EndpointGuard guard;

  private final ArraySource arraySource = new ArraySource();
  private final BufferSource bufferSource = new BufferSource();
  private final DirectSource directSource = new DirectSource();

  FrameSender(
      MemorySegment ringMemory,
      int capacity,
      int maxFrameLength,
      Doorbell doorbell,
      EndpointGuard guard) {
    this.buffer = new UnsafeBuffer(ringMemory.address(), Math.toIntExact(ringMemory.byteSize()));
    this.ring = new OneToOneRingBuffer(buffer);
    this.view = ringMemory.asSlice(0, capacity).asByteBuffer();
    this.capacity = capacity;
    this.maxRecordLength = ring.maxMsgLength();
    this.maxFrameLength = maxFrameLength;
    this.headPositionIndex = capacity + HEAD_POSITION_OFFSET;
    this.tailPositionIndex = capacity + TAIL_POSITION_OFFSET;
    this.doorbell = doorbell;
    this.guard = guard;
  }

  /** The largest payload this sender takes (larger ones must go another way). */
  public int maxFrameLength() {
    return maxFrameLength;
  }

  /** Payloads up to this length travel as one record; larger ones are fragmented. */
  public int maxRecordLength() {
    return maxRecordLength;
  }

  /**
   * Offers {@code length} bytes of {@code source} from {@code offset}.
   *
   * @return false when the ring has no room for the whole frame now
   * @throws IllegalArgumentException for a type outside [1, MAX_TYPE] or a frame over {@link
   *     #maxFrameLength()}
   * @throws IllegalStateException if the segment is closed or another thread is offering
   */
  public boolean offer(int type, byte[] source, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, source.length);
    arraySource.array = source;
    try {
      return offer(type, length, arraySource, offset);
    } finally {
      arraySource.array = null;
    }
  }

  /** Offers the whole of {@code source}. */
  public boolean offer(int type, byte[] source) {
    return offer(type, source, 0, source.length);
  }

  /** Offers the bytes between {@code source}'s position and limit; its position does not move. */
  public boolean offer(int type, ByteBuffer source) {
    bufferSource.buffer = source;
    try {
      return offer(type, source.remaining(), bufferSource, source.position());
    } finally {
      bufferSource.buffer = null;
    }
  }

  /** Offers {@code length} bytes of an Agrona buffer from {@code offset}. */
  public boolean offer(int type, DirectBuffer source, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, source.capacity());
    directSource.buffer = source;
    try {
      return offer(type, length, directSource, offset);
    } finally {
      directSource.buffer = null;
    }
  }

  /**
   * Offers a frame of exactly {@code length} bytes that {@code encoder} writes in place, without an
   * intermediate copy when it fits one record.
   *
   * @throws IllegalStateException if the encoder wrote other than {@code length} bytes (the frame
   *     is then abandoned)
   */
  public boolean offer(int type, int length, FrameEncoder encoder) {
    FrameTypeDescriptor.checkType(type);
    checkLength(length);
    if (length > maxRecordLength) {
      ByteBuffer staging = ByteBuffer.allocate(length);
      encode(encoder, staging, length);
      return offer(type, staging.array(), 0, length);
    }
    guard.enter();
    try {
      int index = ring.tryClaim(type, length);
      if (index < 0) {
        return false;
      }
      try {
        encode(encoder, view.slice(index, length), length);
      } catch (RuntimeException | Error e) {
        ring.abort(index);
        throw e;
      }
      ring.commit(index);
      doorbell.wakeIfSleeping();
      return true;
    } finally {
      guard.exit();
    }
  }

  private boolean offer(int type, int length, Source source, int offset) {
    FrameTypeDescriptor.checkType(type);
    checkLength(length);
    guard.enter();
    try {
      boolean written =
          length <= maxRecordLength
              ? writeRecord(type, source, offset, length, -1)
              : writeFragments(type, source, offset, length);
      if (written) {
        doorbell.wakeIfSleeping();
      }
      return written;
    } finally {
      guard.exit();
    }
  }

  private boolean writeFragments(int type, Source source, int offset, int length) {
    int firstChunk = maxRecordLength - FIRST_FRAGMENT_HEADER_LENGTH;
    int fragments = 1 + (length - firstChunk + maxRecordLength - 1) / maxRecordLength;
    // Room for every fragment at full size, one wrap-around's padding and Agrona's spare header.
    long fullRecord = BitUtil.align(maxRecordLength + HEADER_LENGTH, ALIGNMENT);
    long needed = fullRecord * (fragments + 1) + HEADER_LENGTH;
    long tail = buffer.getLong(tailPositionIndex);
    long head = buffer.getLongVolatile(headPositionIndex);
    if (capacity - (tail - head) < needed) {
      return false;
    }
    int position = offset;
    int remaining = length;
    for (int i = 0; i < fragments; i++) {
      boolean first = i == 0;
      int chunk = Math.min(remaining, first ? firstChunk : maxRecordLength);
      int flags = FRAGMENT | (first ? FIRST : 0) | (i == fragments - 1 ? LAST : 0);
      if (!writeRecord(type | flags, source, position, chunk, first ? length : -1)) {
        // Only a peer scribbling on our ring positions takes away room we saw free.
        throw new IllegalStateException(
            "ring refused fragment " + i + " of " + fragments + " after showing room for all");
      }
      position += chunk;
      remaining -= chunk;
    }
    return true;
  }

  /** One record; {@code frameLength} >= 0 makes it a first fragment, prefixed with the length. */
  private boolean writeRecord(
      int typeWord, Source source, int offset, int length, int frameLength) {
    int prefix = frameLength >= 0 ? FIRST_FRAGMENT_HEADER_LENGTH : 0;
    int index = ring.tryClaim(typeWord, length + prefix);
    if (index < 0) {
      return false;
    }
    try {
      if (prefix != 0) {
        buffer.putInt(index, frameLength);
      }
      source.copyTo(index + prefix, offset, length);
    } catch (RuntimeException | Error e) {
      ring.abort(index);
      throw e;
    }
    ring.commit(index);
    return true;
  }

  private void checkLength(int length) {
    if (length < 0 || length > maxFrameLength) {
      throw new IllegalArgumentException(
          "frame of "
              + length
              + " bytes is not in [0, "
              + maxFrameLength
              + "], this link's largest frame");
    }
  }

  private static void encode(FrameEncoder encoder, ByteBuffer destination, int length) {
    encoder.encode(destination);
    if (destination.position() != length) {
      throw new IllegalStateException(
          "encoder wrote " + destination.position() + " bytes of a frame declared as " + length);
    }
  }

  /** Where a payload is copied from; one reusable instance per kind, so offers do not allocate. */
  private interface Source {
    void copyTo(int ringIndex, int sourceOffset, int length);
  }

  private final class ArraySource implements Source {
    byte[] array;

    @Override
    public void copyTo(int ringIndex, int sourceOffset, int length) {
      view.put(ringIndex, array, sourceOffset, length);
    }
  }

  private final class BufferSource implements Source {
    ByteBuffer buffer;

    @Override
    public void copyTo(int ringIndex, int sourceOffset, int length) {
      view.put(ringIndex, buffer, sourceOffset, length);
    }
  }

  private final class DirectSource implements Source {
    DirectBuffer buffer;

    @Override
    public void copyTo(int ringIndex, int sourceOffset, int length) {
      FrameSender.this.buffer.putBytes(ringIndex, buffer, sourceOffset, length);
    }
  }
}
