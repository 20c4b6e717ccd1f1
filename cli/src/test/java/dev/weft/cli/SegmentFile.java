package dev.weft.cli;

import static org.agrona.concurrent.ringbuffer.RecordDescriptor.ALIGNMENT;
import static org.agrona.concurrent.ringbuffer.RecordDescriptor.HEADER_LENGTH;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.HEAD_POSITION_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TAIL_POSITION_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TRAILER_LENGTH;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.agrona.BitUtil;

/**
 * A weft shared-memory segment mapped by a test, to read its header and to write into its rings as
 * a faulty or hostile peer would. The offsets mirror {@code dev.weft.local.SegmentDescriptor},
 * which stays package-private: the test computes the layout rather than widen the public API, and
 * {@link #map} checks magic, version and header length so that a layout change fails here with a
 * clear message instead of scribbling at the wrong place.
 *
 * <p>Each direction is an Agrona one-to-one ring: 8-aligned records of an 8-byte header (int32
 * length, then int32 type) and a payload, with head and tail positions in a trailer after the
 * ring's bytes. The coordinator created the segment; the worker attached it.
 */
final class SegmentFile implements AutoCloseable {
  private static final long MAGIC = 0x314D_4853_5446_4557L;
  private static final int VERSION_MAJOR = 1;
  private static final int SLOT_LENGTH = 2 * BitUtil.CACHE_LINE_LENGTH;
  private static final long VERSION_OFFSET = 8;
  private static final long HEADER_LENGTH_OFFSET = 12;
  private static final long CAPACITY_TO_ATTACHER_OFFSET = 24;
  private static final long CAPACITY_TO_CREATOR_OFFSET = 28;
  private static final long MAX_FRAME_LENGTH_OFFSET = 32;
  private static final long ATTACHER_PID_OFFSET = 2L * SLOT_LENGTH;
  private static final int SEGMENT_HEADER_LENGTH = 12 * SLOT_LENGTH;
  // The futex word the worker rings when it has written to the coordinator: the header's
  // second-to-last slot (the last is the coordinator's sleeping flag).
  private static final long WAKE_TO_CREATOR_OFFSET = 10L * SLOT_LENGTH;

  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
  private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

  private final Path path;
  private final Arena arena;
  private final MemorySegment memory;
  private final Ring toWorker;
  private final Ring toCoordinator;

  private SegmentFile(Path path, Arena arena, MemorySegment memory) {
    this.path = path;
    this.arena = arena;
    this.memory = memory;
    int toWorkerCapacity = (int) INT.getAcquire(memory, CAPACITY_TO_ATTACHER_OFFSET);
    this.toWorker = new Ring(SEGMENT_HEADER_LENGTH, toWorkerCapacity);
    this.toCoordinator =
        new Ring(
            (long) SEGMENT_HEADER_LENGTH + toWorkerCapacity + TRAILER_LENGTH,
            (int) INT.getAcquire(memory, CAPACITY_TO_CREATOR_OFFSET));
  }

  /** Maps {@code path} read-write; the mapping outlives the file if the coordinator unlinks it. */
  static SegmentFile map(Path path) throws IOException {
    Arena arena = Arena.ofShared();
    try (FileChannel channel =
        FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MemorySegment memory = channel.map(FileChannel.MapMode.READ_WRITE, 0, channel.size(), arena);
      check(path, memory);
      return new SegmentFile(path, arena, memory);
    } catch (IOException | RuntimeException | AssertionError e) {
      arena.close();
      throw e;
    }
  }

  private static void check(Path path, MemorySegment memory) {
    long magic = (long) LONG.getAcquire(memory, 0L);
    int version = (int) INT.getAcquire(memory, VERSION_OFFSET);
    int headerLength = (int) INT.getAcquire(memory, HEADER_LENGTH_OFFSET);
    if (magic != MAGIC
        || version >>> 16 != VERSION_MAJOR
        || headerLength != SEGMENT_HEADER_LENGTH) {
      throw new AssertionError(
          String.format(
              "%s: magic 0x%016x, version %d.%d, header length %d; this test knows layout %d.x"
                  + " with a %d-byte header: update SegmentFile to SegmentDescriptor",
              path,
              magic,
              version >>> 16,
              version & 0xFFFF,
              headerLength,
              VERSION_MAJOR,
              SEGMENT_HEADER_LENGTH));
    }
  }

  Path path() {
    return path;
  }

  /** The largest frame the rings carry; larger messages must go over the control link. */
  int maxFrameLength() {
    return (int) INT.getAcquire(memory, MAX_FRAME_LENGTH_OFFSET);
  }

  /** The pid of the worker that attached this segment (0 before one has). */
  long attacherPid() {
    return (long) LONG.getAcquire(memory, ATTACHER_PID_OFFSET);
  }

  /** The ring the coordinator writes and the worker reads. */
  Ring toWorker() {
    return toWorker;
  }

  /** The ring the worker writes and the coordinator reads. */
  Ring toCoordinator() {
    return toCoordinator;
  }

  @Override
  public void close() {
    arena.close();
  }

  /** One direction: positions are byte counts since the start, indexes are offsets in the ring. */
  /** Wakes the coordinator's reader of the worker's ring, as the worker does after a write. */
  void wakeCoordinator() {
    INT.getAndAdd(memory, WAKE_TO_CREATOR_OFFSET, 1);
    dev.weft.posix.Futex.wake(memory.asSlice(WAKE_TO_CREATOR_OFFSET, 4), Integer.MAX_VALUE);
  }

  final class Ring {
    private final long base;
    private final int capacity;

    private Ring(long base, int capacity) {
      this.base = base;
      this.capacity = capacity;
    }

    /** The largest payload of one record (Agrona allows an eighth); larger frames are split. */
    int maxRecordLength() {
      return capacity >> 3;
    }

    /** Where the producer will write its next record. */
    long tail() {
      return (long) LONG.getVolatile(memory, base + capacity + TAIL_POSITION_OFFSET);
    }

    /** How far the consumer has published that it has read. */
    long head() {
      return (long) LONG.getVolatile(memory, base + capacity + HEAD_POSITION_OFFSET);
    }

    /**
     * Writes {@code length} into the header of the record slot at the tail, where the consumer
     * looks for the next record, without moving the tail: a length the producer never wrote.
     */
    void writeLengthAtTail(int length) {
      long index = index(tail(), HEADER_LENGTH);
      INT.setRelease(memory, base + index, length);
    }

    /**
     * Appends one well-formed record with {@code typeWord} as the producer would: pre-zero the
     * header after it, publish the tail, write payload and type, and the length last. Only safe
     * while the real producer writes nothing.
     */
    void appendRecord(int typeWord, byte[] payload) {
      long tail = tail();
      int recordLength = HEADER_LENGTH + payload.length;
      int aligned = BitUtil.align(recordLength, ALIGNMENT);
      long record = base + index(tail, aligned + HEADER_LENGTH);
      LONG.setRelease(memory, record + aligned, 0L);
      LONG.setRelease(memory, base + capacity + TAIL_POSITION_OFFSET, tail + aligned);
      MemorySegment.copy(
          payload, 0, memory, ValueLayout.JAVA_BYTE, record + HEADER_LENGTH, payload.length);
      INT.setRelease(memory, record + 4, typeWord);
      INT.setRelease(memory, record, recordLength);
    }

    /** The ring offset of {@code position}, checking that {@code bytes} fit before the end. */
    private long index(long position, int bytes) {
      long index = position & (capacity - 1);
      if (index + bytes > capacity) {
        throw new AssertionError(
            "the ring is at offset "
                + index
                + " of "
                + capacity
                + ": no room for "
                + bytes
                + " bytes before it wraps; use a shorter job");
      }
      return index;
    }
  }
}
