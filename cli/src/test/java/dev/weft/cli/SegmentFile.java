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
 * A weft shared-memory segment mapped by a test, to read its header and to write into the worker's
 * ring as a faulty or hostile peer would. The offsets mirror {@code dev.weft.local.
 * SegmentDescriptor}, which stays package-private: the test computes the layout rather than widen
 * the public API, and {@link #map} checks magic, version and header length so a layout change fails
 * here with a clear message instead of scribbling at the wrong place.
 *
 * <p>The worker's ring ("attacher to creator") is an Agrona one-to-one ring: records of an 8-byte
 * header (int32 length, then int32 type) and a payload, 8-aligned, with head and tail positions in
 * a trailer after the ring's bytes.
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

  private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
  private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

  private final Path path;
  private final Arena arena;
  private final MemorySegment memory;
  private final int coordinatorRingCapacity;
  private final long workerRing;
  private final int workerRingCapacity;

  private SegmentFile(Path path, Arena arena, MemorySegment memory) {
    this.path = path;
    this.arena = arena;
    this.memory = memory;
    this.coordinatorRingCapacity = (int) INT.getAcquire(memory, CAPACITY_TO_ATTACHER_OFFSET);
    this.workerRing = (long) SEGMENT_HEADER_LENGTH + coordinatorRingCapacity + TRAILER_LENGTH;
    this.workerRingCapacity = (int) INT.getAcquire(memory, CAPACITY_TO_CREATOR_OFFSET);
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

  /**
   * The largest payload of one record in the coordinator's ring (Agrona allows an eighth of the
   * capacity); a larger frame is split into fragments.
   */
  int maxRecordLengthToWorker() {
    return coordinatorRingCapacity >> 3;
  }

  /** The pid of the worker that attached this segment (0 before one has). */
  long attacherPid() {
    return (long) LONG.getAcquire(memory, ATTACHER_PID_OFFSET);
  }

  /** Where the worker will write its next record, as a position (bytes ever written). */
  long workerTail() {
    return (long) LONG.getVolatile(memory, workerRing + workerRingCapacity + TAIL_POSITION_OFFSET);
  }

  /** How far the coordinator has published that it read the worker's ring. */
  long workerHead() {
    return (long) LONG.getVolatile(memory, workerRing + workerRingCapacity + HEAD_POSITION_OFFSET);
  }

  /**
   * Writes {@code length} into the header of the record slot at the worker's tail, where the
   * coordinator looks for the next record, without moving the tail: a length the producer never
   * wrote.
   */
  void writeLengthAtTail(int length) {
    long index = ringIndex(workerTail(), HEADER_LENGTH);
    INT.setRelease(memory, workerRing + index, length);
  }

  /**
   * Appends one well-formed record with {@code typeWord} as the producer would: pre-zero the header
   * after it, publish the tail, write payload and type, and the length last. Only safe while the
   * worker writes nothing.
   */
  void appendRecord(int typeWord, byte[] payload) {
    long tail = workerTail();
    int recordLength = HEADER_LENGTH + payload.length;
    int aligned = BitUtil.align(recordLength, ALIGNMENT);
    long index = ringIndex(tail, aligned + HEADER_LENGTH);
    long record = workerRing + index;
    LONG.setRelease(memory, record + aligned, 0L);
    LONG.setRelease(memory, workerRing + workerRingCapacity + TAIL_POSITION_OFFSET, tail + aligned);
    MemorySegment.copy(
        payload, 0, memory, ValueLayout.JAVA_BYTE, record + HEADER_LENGTH, payload.length);
    INT.setRelease(memory, record + 4, typeWord);
    INT.setRelease(memory, record, recordLength);
  }

  /** The ring offset of {@code position}, checking that {@code bytes} fit before the ring's end. */
  private long ringIndex(long position, int bytes) {
    long index = position & (workerRingCapacity - 1);
    if (index + bytes > workerRingCapacity) {
      throw new AssertionError(
          "the worker's ring is at offset "
              + index
              + " of "
              + workerRingCapacity
              + ": no room for "
              + bytes
              + " bytes before it wraps; use a shorter job");
    }
    return index;
  }

  @Override
  public void close() {
    arena.close();
  }
}
