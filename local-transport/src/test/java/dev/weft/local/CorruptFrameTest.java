package dev.weft.local;

import static dev.weft.local.FrameTypeDescriptor.FIRST;
import static dev.weft.local.FrameTypeDescriptor.FRAGMENT;
import static dev.weft.local.FrameTypeDescriptor.LAST;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TAIL_POSITION_OFFSET;
import static org.agrona.concurrent.ringbuffer.RingBufferDescriptor.TRAILER_LENGTH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A producer that breaks the rules, played by a second mapping of the creator->attacher ring that
 * the test writes by hand: every bad record is reported as a {@link CorruptFrameException}, never
 * delivered, and the receiver stays broken.
 */
@ExtendWith(TestSegments.class)
class CorruptFrameTest {
  private static final int CAPACITY = FrameRingTest.CAPACITY;

  private ShmSegment creator;
  private ShmSegment attacher;
  private Arena arena;
  private UnsafeBuffer ring;
  private OneToOneRingBuffer rawWriter;
  private final List<Integer> delivered = new ArrayList<>();

  @BeforeEach
  void open() throws IOException {
    ShmConfig config = TestSegments.config().ringCapacity(CAPACITY).maxFrameType(100);
    creator = ShmSegment.create(config);
    attacher = ShmSegment.attach(TestSegments.attacherOf(config));
    arena = Arena.ofShared();
    try (FileChannel channel =
        FileChannel.open(creator.path(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MemorySegment memory = channel.map(FileChannel.MapMode.READ_WRITE, 0, channel.size(), arena);
      ring =
          new UnsafeBuffer(
              memory.address() + SegmentDescriptor.RING_TO_ATTACHER_OFFSET,
              CAPACITY + TRAILER_LENGTH);
    }
    rawWriter = new OneToOneRingBuffer(ring);
  }

  @AfterEach
  void close() {
    arena.close();
    attacher.close();
    creator.close();
  }

  private void expectCorrupt(String message) throws IOException {
    FrameReceiver receiver = attacher.receiver();
    int before = delivered.size();
    CorruptFrameException first =
        assertThrows(
            CorruptFrameException.class,
            () -> receiver.poll((type, payload) -> delivered.add(type), 100));
    assertEquals(message, first.getMessage());
    assertEquals(before, delivered.size(), "nothing of the bad record delivered");
    CorruptFrameException again =
        assertThrows(
            CorruptFrameException.class,
            () -> receiver.poll((type, payload) -> delivered.add(type), 100));
    assertEquals(message, again.getMessage(), "a corrupt ring stays corrupt");
  }

  /** Writes a record header where the next record goes, moving the tail by {@code advance}. */
  private void forge(int length, int typeWord, int advance) {
    long tail = ring.getLong(CAPACITY + TAIL_POSITION_OFFSET);
    int index = (int) tail & (CAPACITY - 1);
    ring.putLong(CAPACITY + TAIL_POSITION_OFFSET, tail + advance);
    ring.putInt(index + 4, typeWord);
    ring.putIntRelease(index, length);
  }

  private void sendAndReceiveOne(int type, int length) throws IOException {
    assertTrue(creator.sender().offer(type, new byte[length]));
    assertEquals(1, attacher.receiver().poll((t, payload) -> delivered.add(t), 1));
  }

  @Test
  void anOversizedLength() throws IOException {
    sendAndReceiveOne(1, 10);
    forge(1 << 30, 1, 8);
    expectCorrupt(
        "record length 1073741824 at ring offset 24 is not in [8, 4072], the bytes left before"
            + " the ring's end");
  }

  @Test
  void aLengthShorterThanTheRecordHeader() throws IOException {
    forge(3, 1, 8);
    expectCorrupt(
        "record length 3 at ring offset 0 is not in [8, 4096], the bytes left before the ring's"
            + " end");
  }

  @Test
  void aNegativeLengthNoRecordCanHave() throws IOException {
    forge(Integer.MIN_VALUE, 1, 8);
    expectCorrupt(
        "record being written at ring offset 0 has length -2147483648, which no record there can"
            + " have");
  }

  @Test
  void aPlausibleNegativeLengthIsARecordBeingWrittenAndDoesNotWedgeTheReader()
      throws IOException, InterruptedException {
    // What a producer killed between claiming and committing leaves behind.
    forge(-16, 1, 16);
    long start = System.nanoTime();
    assertEquals(
        0,
        attacher
            .receiver()
            .receive(
                (type, payload) -> delivered.add(type), 10, TimeUnit.MILLISECONDS.toNanos(50)));
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
    assertEquals(List.of(), delivered);
  }

  @Test
  void aRecordRunningPastTheRingsEnd() throws IOException {
    // 7 records of 512 bytes and one of 448 put the head 64 bytes before the end.
    for (int i = 0; i < 7; i++) {
      sendAndReceiveOne(1, 504);
    }
    sendAndReceiveOne(1, 440);
    forge(200, 1, 200);
    expectCorrupt(
        "record length 200 at ring offset 4032 is not in [8, 64], the bytes left before the"
            + " ring's end");
  }

  @Test
  void aRecordLargerThanTheRingAllows() throws IOException {
    forge(512 + 8 + 8, 1, 528);
    expectCorrupt(
        "record of 520 payload bytes at ring offset 0 exceeds the ring's largest record, 512");
  }

  @Test
  void aRecordPastTheProducersTail() throws IOException {
    forge(16, 1, 0);
    expectCorrupt("record at position 0 ends at 16, inconsistent with the producer's tail 0");
  }

  @Test
  void anUnknownType() throws IOException {
    sendAndReceiveOne(100, 0);
    assertTrue(rawWriter.write(101, new UnsafeBuffer(new byte[4]), 0, 4));
    expectCorrupt("record at ring offset 8 has frame type 101, not in [1, 100]");
  }

  @Test
  void typeZero() throws IOException {
    forge(8, 0, 8);
    expectCorrupt("record at ring offset 0 has frame type 0, not in [1, 100]");
  }

  @Test
  void unknownFlags() throws IOException {
    assertTrue(rawWriter.write(1 | (1 << 20), new UnsafeBuffer(new byte[4]), 0, 4));
    expectCorrupt("record has unknown flags 0x00100000");
  }

  @Test
  void aFragmentWithoutAFirstFragment() throws IOException {
    assertTrue(rawWriter.write(3 | FRAGMENT | LAST, new UnsafeBuffer(new byte[4]), 0, 4));
    expectCorrupt("a fragment of type 3 arrived without a first fragment");
  }

  @Test
  void aFirstFragmentDeclaringMoreThanTheLargestFrame() throws IOException {
    UnsafeBuffer first = new UnsafeBuffer(new byte[12]);
    first.putInt(0, 1 << 30);
    assertTrue(rawWriter.write(3 | FRAGMENT | FIRST, first, 0, 12));
    expectCorrupt("a fragmented frame declares 1073741824 bytes, not in [9, 2048]");
  }

  @Test
  void fragmentsThatOverrunTheirDeclaredLength() throws IOException {
    UnsafeBuffer first = new UnsafeBuffer(new byte[12]);
    first.putInt(0, 20);
    assertTrue(rawWriter.write(3 | FRAGMENT | FIRST, first, 0, 12));
    assertTrue(rawWriter.write(3 | FRAGMENT, new UnsafeBuffer(new byte[16]), 0, 16));
    expectCorrupt("fragments add up to 24 bytes, the frame declared 20");
  }

  @Test
  void aLastFragmentThatLeavesTheFrameShort() throws IOException {
    UnsafeBuffer first = new UnsafeBuffer(new byte[12]);
    first.putInt(0, 20);
    assertTrue(rawWriter.write(3 | FRAGMENT | FIRST, first, 0, 12));
    assertTrue(rawWriter.write(3 | FRAGMENT | LAST, new UnsafeBuffer(new byte[4]), 0, 4));
    expectCorrupt("fragments add up to 12 bytes at the last one, the frame declared 20");
  }

  @Test
  void aWholeFrameInsideAFragmentedOne() throws IOException {
    UnsafeBuffer first = new UnsafeBuffer(new byte[12]);
    first.putInt(0, 20);
    assertTrue(rawWriter.write(3 | FRAGMENT | FIRST, first, 0, 12));
    assertTrue(rawWriter.write(4, new UnsafeBuffer(new byte[4]), 0, 4));
    expectCorrupt("a whole frame of type 4 arrived inside a fragmented frame of type 3");
  }

  @Test
  void aFragmentOfAnotherType() throws IOException {
    UnsafeBuffer first = new UnsafeBuffer(new byte[12]);
    first.putInt(0, 20);
    assertTrue(rawWriter.write(3 | FRAGMENT | FIRST, first, 0, 12));
    assertTrue(rawWriter.write(4 | FRAGMENT | LAST, new UnsafeBuffer(new byte[12]), 0, 12));
    expectCorrupt("a fragment of type 4 arrived inside a frame of type 3");
  }

  @Test
  void paddingAnywhereIsSkippedAsAnAbortedClaim() throws IOException {
    int index = rawWriter.tryClaim(5, 16);
    rawWriter.abort(index);
    assertTrue(creator.sender().offer(6, ByteBuffer.allocate(3)));
    assertEquals(1, attacher.receiver().poll((type, payload) -> delivered.add(type), 10));
    assertEquals(List.of(6), delivered);
  }
}
