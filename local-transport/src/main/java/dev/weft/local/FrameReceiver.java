package dev.weft.local;

import static dev.weft.local.FrameTypeDescriptor.FIRST;
import static dev.weft.local.FrameTypeDescriptor.FIRST_FRAGMENT_HEADER_LENGTH;
import static dev.weft.local.FrameTypeDescriptor.FLAGS_MASK;
import static dev.weft.local.FrameTypeDescriptor.FRAGMENT;
import static dev.weft.local.FrameTypeDescriptor.LAST;
import static dev.weft.local.FrameTypeDescriptor.TYPE_MASK;
import static org.agrona.concurrent.ringbuffer.RecordDescriptor.ALIGNMENT;
import static org.agrona.concurrent.ringbuffer.RecordDescriptor.HEADER_LENGTH;
import static org.agrona.concurrent.ringbuffer.RecordDescriptor.lengthOffset;
import static org.agrona.concurrent.ringbuffer.RecordDescriptor.typeOffset;
import static org.agrona.concurrent.ringbuffer.RingBuffer.PADDING_MSG_TYPE_ID;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.HEAD_POSITION_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TAIL_POSITION_OFFSET;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import org.agrona.BitUtil;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The consuming end of one ring in a {@link ShmSegment}.
 *
 * <p>It reads the records Agrona's {@code OneToOneRingBuffer} writes, but with its own loop,
 * because Agrona's reader trusts what it finds in shared memory: a corrupt padding length moves its
 * head anywhere, and an oversized record length reaches the handler unchecked. Here every record is
 * checked before use: its length against the bytes left before the ring's end, against the
 * producer's tail and against the largest record; its type against the types this receiver takes;
 * its fragment flags against the frame being reassembled. The head position is kept locally and
 * only published, never read back. A record that fails a check is not consumed, the receiver stays
 * broken ({@link CorruptFrameException} from then on), and the link should be closed.
 *
 * <p>Single consumer: one thread at a time. Frames are delivered in order, each exactly once.
 */
public final class FrameReceiver {
  private final UnsafeBuffer buffer;
  private final ByteBuffer view;
  private final int capacity;
  private final int mask;
  private final int maxRecordLength;
  private final int maxFrameLength;
  private final int maxFrameType;
  private final int headPositionIndex;
  private final int tailPositionIndex;
  private final Doorbell doorbell;
  private final EndpointGuard guard;
  private final BooleanSupplier peerClosed;
  private final ShmConfig config;
  private final AdaptiveIdleStrategy receiveIdle;

  private long head;
  private long knownTail;
  private CorruptFrameException corruption;

  private byte[] assembly = new byte[0];
  private ByteBuffer assemblyView = ByteBuffer.wrap(assembly);
  private boolean assembling;
  private int assemblyType;
  private int assemblyLength;
  private int assemblyExpected;

  FrameReceiver(
      MemorySegment ringMemory,
      int capacity,
      int maxFrameLength,
      Doorbell doorbell,
      EndpointGuard guard,
      BooleanSupplier peerClosed,
      ShmConfig config) {
    this.buffer = new UnsafeBuffer(ringMemory.address(), Math.toIntExact(ringMemory.byteSize()));
    this.view = ringMemory.asSlice(0, capacity).asByteBuffer().asReadOnlyBuffer();
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.maxRecordLength = SegmentDescriptor.maxRecordPayload(capacity);
    this.maxFrameLength = maxFrameLength;
    this.maxFrameType = config.maxFrameType();
    this.headPositionIndex = capacity + HEAD_POSITION_OFFSET;
    this.tailPositionIndex = capacity + TAIL_POSITION_OFFSET;
    this.doorbell = doorbell;
    this.guard = guard;
    this.peerClosed = peerClosed;
    this.config = config;
    // Validated by SegmentDescriptor.checkRingPositions before we got here.
    this.head = buffer.getLongVolatile(headPositionIndex);
    this.knownTail = buffer.getLongVolatile(tailPositionIndex);
    this.receiveIdle = newIdleStrategyInternal();
  }

  /** The largest frame this receiver reassembles. */
  public int maxFrameLength() {
    return maxFrameLength;
  }

  /**
   * Delivers the frames available now, at most {@code limit} ring records' worth, without waiting.
   *
   * @return the number of frames delivered (0 when none is complete yet)
   * @throws CorruptFrameException if a record breaks the framing rules; the bad record is not
   *     consumed and every later call throws too
   * @throws IllegalStateException if the segment is closed or another thread is receiving
   */
  public int poll(FrameHandler handler, int limit) throws CorruptFrameException {
    Objects.requireNonNull(handler, "handler");
    if (limit <= 0) {
      throw new IllegalArgumentException("limit " + limit + " is not positive");
    }
    guard.enter();
    try {
      return read(handler, limit);
    } finally {
      guard.exit();
    }
  }

  /**
   * Waits up to {@code timeoutNs} for frames, then delivers them as {@link #poll} does. Waits as an
   * {@link AdaptiveIdleStrategy} does (spin, yield, then sleep on a futex the producer rings, with
   * no spin or yield when no frame came for a while); returns 0 on timeout or when the peer has
   * closed its side, so the caller can check liveness. An interrupt is noticed within the park
   * timeout (a futex sleep cannot be interrupted): run this on a platform thread.
   */
  public int receive(FrameHandler handler, int limit, long timeoutNs)
      throws CorruptFrameException, InterruptedException {
    long deadline = System.nanoTime() + timeoutNs;
    receiveIdle.reset();
    while (true) {
      int delivered = poll(handler, limit);
      if (delivered > 0) {
        receiveIdle.idle(delivered);
        return delivered;
      }
      if (Thread.interrupted()) {
        throw new InterruptedException("interrupted while waiting for frames");
      }
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0 || peerClosed.getAsBoolean()) {
        return 0;
      }
      receiveIdle.idle(remaining);
    }
  }

  /**
   * A new idle strategy (spin, yield, futex) for an Agrona agent whose {@code doWork} polls this
   * receiver; the producer's wake-up ends its sleep. Pass it the work count, so it knows when work
   * was recent.
   */
  public IdleStrategy newIdleStrategy() {
    return newIdleStrategyInternal();
  }

  /** True when a record is ready to read (without consuming it). */
  boolean hasRecord() {
    return buffer.getIntVolatile(lengthOffset((int) head & mask)) > 0;
  }

  /** Sleeps on the futex word for at most {@code timeoutNs} unless a record is ready. */
  void park(long timeoutNs) {
    if (!guard.tryEnter()) {
      return;
    }
    try {
      int sequence = doorbell.announceSleep();
      try {
        // Checked after announcing: close() marks the guard before it rings, so either we see
        // the mark here or the ring changes the futex word under us.
        if (!hasRecord() && !guard.isClosed() && !peerClosed.getAsBoolean()) {
          doorbell.sleep(sequence, timeoutNs);
        }
      } finally {
        doorbell.retractSleep();
      }
    } finally {
      guard.exit();
    }
  }

  private AdaptiveIdleStrategy newIdleStrategyInternal() {
    // The producer's futex wake ends a sleep, so sleeps need not start short and grow.
    return new AdaptiveIdleStrategy(
        config.spinNs(),
        config.yieldNs(),
        AdaptiveIdleStrategy.DEFAULT_RECENT_WORK_NS,
        config.parkTimeoutNs(),
        config.parkTimeoutNs(),
        this::park,
        SystemNanoClock.INSTANCE);
  }

  private int read(FrameHandler handler, int limit) throws CorruptFrameException {
    if (corruption != null) {
      throw corruption;
    }
    long before = head;
    long counts = readContiguous(handler, limit);
    int frames = (int) counts;
    int records = (int) (counts >>> 32);
    // A pass stops at the ring's end; go on from its start once, so that a frame whose
    // fragments straddle the wrap comes out of one call.
    if (head != before && ((int) head & mask) == 0 && records < limit && !guard.isClosed()) {
      frames += (int) readContiguous(handler, limit - records);
    }
    return frames;
  }

  /** Reads up to the ring's end; returns records consumed in the high half, frames in the low. */
  private long readContiguous(FrameHandler handler, int limit) throws CorruptFrameException {
    final long head = this.head;
    final int headIndex = (int) head & mask;
    final int contiguous = capacity - headIndex;
    int bytesRead = 0;
    int records = 0;
    int frames = 0;
    try {
      while (bytesRead < contiguous && records < limit) {
        int recordIndex = headIndex + bytesRead;
        int recordLength = buffer.getIntVolatile(lengthOffset(recordIndex));
        int remaining = contiguous - bytesRead;
        if (recordLength <= 0) {
          // Zero: nothing yet. Negative: a record being written (for ever, if its producer
          // died), which must still have a length that fits.
          if (recordLength < 0 && (recordLength > -HEADER_LENGTH || recordLength < -remaining)) {
            throw corrupt(
                "record being written at ring offset "
                    + recordIndex
                    + " has length "
                    + recordLength
                    + ", which no record there can have");
          }
          break;
        }
        if (recordLength < HEADER_LENGTH || recordLength > remaining) {
          throw corrupt(
              "record length "
                  + recordLength
                  + " at ring offset "
                  + recordIndex
                  + " is not in ["
                  + HEADER_LENGTH
                  + ", "
                  + remaining
                  + "], the bytes left before the ring's end");
        }
        // remaining is a multiple of ALIGNMENT, so the aligned length still fits.
        int alignedLength = BitUtil.align(recordLength, ALIGNMENT);
        checkWithinTail(head + bytesRead, alignedLength);
        int typeWord = buffer.getInt(typeOffset(recordIndex));
        if (typeWord == PADDING_MSG_TYPE_ID) {
          // Fills the ring's end before a wrap, or an aborted claim: skip, bounds already checked.
          bytesRead += alignedLength;
          continue;
        }
        int payloadLength = recordLength - HEADER_LENGTH;
        if (payloadLength > maxRecordLength) {
          throw corrupt(
              "record of "
                  + payloadLength
                  + " payload bytes at ring offset "
                  + recordIndex
                  + " exceeds the ring's largest record, "
                  + maxRecordLength);
        }
        int payloadIndex = recordIndex + HEADER_LENGTH;
        ByteBuffer frame = accept(typeWord, payloadIndex, payloadLength);
        bytesRead += alignedLength;
        records++;
        if (frame != null) {
          frames++;
          handler.onFrame(typeWord & TYPE_MASK, frame);
          if (guard.isClosed()) {
            break; // the handler closed the segment: deliver nothing more
          }
        }
      }
    } finally {
      if (bytesRead > 0) {
        this.head = head + bytesRead;
        buffer.putLongRelease(headPositionIndex, head + bytesRead);
      }
    }
    return ((long) records << 32) | frames;
  }

  /**
   * Checks one record's type and fragment flags against the reassembly state and takes it in.
   * Returns the frame to deliver, or null for a fragment that does not complete one.
   */
  private ByteBuffer accept(int typeWord, int payloadIndex, int payloadLength)
      throws CorruptFrameException {
    int type = typeWord & TYPE_MASK;
    int flags = typeWord & FLAGS_MASK;
    if (type < 1 || type > maxFrameType) {
      throw corrupt(
          "record at ring offset "
              + (payloadIndex - HEADER_LENGTH)
              + " has frame type "
              + type
              + ", not in [1, "
              + maxFrameType
              + "]");
    }
    if (flags == 0) {
      if (assembling) {
        throw corrupt(
            "a whole frame of type "
                + type
                + " arrived inside a fragmented frame of type "
                + assemblyType);
      }
      view.clear();
      return view.position(payloadIndex).limit(payloadIndex + payloadLength);
    }
    if (flags == (FRAGMENT | FIRST)) {
      if (assembling) {
        throw corrupt("a first fragment arrived before the previous fragmented frame ended");
      }
      if (payloadLength < FIRST_FRAGMENT_HEADER_LENGTH) {
        throw corrupt("a first fragment of " + payloadLength + " bytes has no frame length");
      }
      int frameLength = buffer.getInt(payloadIndex);
      int chunk = payloadLength - FIRST_FRAGMENT_HEADER_LENGTH;
      if (frameLength <= chunk || frameLength > maxFrameLength) {
        throw corrupt(
            "a fragmented frame declares "
                + frameLength
                + " bytes, not in ["
                + (chunk + 1)
                + ", "
                + maxFrameLength
                + "]");
      }
      if (assembly.length < frameLength) {
        assembly = new byte[frameLength];
        assemblyView = ByteBuffer.wrap(assembly);
      }
      buffer.getBytes(payloadIndex + FIRST_FRAGMENT_HEADER_LENGTH, assembly, 0, chunk);
      assembling = true;
      assemblyType = type;
      assemblyExpected = frameLength;
      assemblyLength = chunk;
      return null;
    }
    if (flags == FRAGMENT || flags == (FRAGMENT | LAST)) {
      if (!assembling) {
        throw corrupt("a fragment of type " + type + " arrived without a first fragment");
      }
      if (type != assemblyType) {
        throw corrupt(
            "a fragment of type " + type + " arrived inside a frame of type " + assemblyType);
      }
      int total = assemblyLength + payloadLength;
      boolean last = flags == (FRAGMENT | LAST);
      if (total > assemblyExpected || (last && total != assemblyExpected)) {
        throw corrupt(
            "fragments add up to "
                + total
                + (last ? " bytes at the last one" : " bytes")
                + ", the frame declared "
                + assemblyExpected);
      }
      buffer.getBytes(payloadIndex, assembly, assemblyLength, payloadLength);
      assemblyLength = total;
      if (!last) {
        return null;
      }
      assembling = false;
      assemblyView.clear();
      return assemblyView.limit(total);
    }
    throw corrupt(String.format("record has unknown flags 0x%08x", flags));
  }

  private void checkWithinTail(long recordPosition, int alignedLength)
      throws CorruptFrameException {
    long end = recordPosition + alignedLength;
    if (end > knownTail) {
      // The producer publishes its tail before the record, so a fresh read must cover it.
      knownTail = buffer.getLongVolatile(tailPositionIndex);
      if (end > knownTail || knownTail - recordPosition > capacity) {
        throw corrupt(
            "record at position "
                + recordPosition
                + " ends at "
                + end
                + ", inconsistent with the producer's tail "
                + knownTail);
      }
    }
  }

  private CorruptFrameException corrupt(String message) {
    assembling = false;
    corruption = new CorruptFrameException(message);
    return corruption;
  }
}
