package dev.weft.local;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** One segment in one process: the creator sends, the attacher receives, on the same memory. */
@ExtendWith(TestSegments.class)
class FrameRingTest {
  static final int CAPACITY = 4096;
  static final int MAX_RECORD = CAPACITY / 8;
  static final int MAX_FRAME = CAPACITY / 2;

  private ShmSegment creator;
  private ShmSegment attacher;
  private FrameSender sender;
  private FrameReceiver receiver;
  private final List<Frame> received = new ArrayList<>();

  record Frame(int type, byte[] payload) {}

  @BeforeEach
  void open() throws IOException {
    ShmConfig config = TestSegments.config().ringCapacity(CAPACITY).maxFrameType(100);
    creator = ShmSegment.create(config);
    attacher = ShmSegment.attach(TestSegments.attacherOf(config));
    sender = creator.sender();
    receiver = attacher.receiver();
  }

  @AfterEach
  void close() {
    attacher.close();
    creator.close();
  }

  void collect(int type, ByteBuffer payload) {
    byte[] bytes = new byte[payload.remaining()];
    payload.get(bytes);
    received.add(new Frame(type, bytes));
  }

  static byte[] bytes(int length, int seed) {
    byte[] bytes = new byte[length];
    new SplittableRandom(seed).nextBytes(bytes);
    return bytes;
  }

  private int drain() throws IOException {
    int total = 0;
    int n;
    while ((n = receiver.poll(this::collect, 100)) > 0) {
      total += n;
    }
    return total;
  }

  @Test
  void framesArriveInOrderWithTheirTypesFromEverySource() throws IOException {
    assertTrue(sender.offer(7, bytes(10, 1)));
    assertTrue(sender.offer(8, new byte[0]));
    ByteBuffer buffer = ByteBuffer.wrap(bytes(100, 2), 10, 50);
    assertTrue(sender.offer(9, buffer));
    assertEquals(10, buffer.position(), "offer leaves the source's position alone");
    assertTrue(sender.offer(10, new UnsafeBuffer(bytes(30, 3)), 5, 20));
    ByteBuffer direct = ByteBuffer.allocateDirect(40).put(bytes(40, 4)).flip();
    assertTrue(sender.offer(11, direct));
    assertEquals(5, receiver.poll(this::collect, 10));
    assertEquals(0, receiver.poll(this::collect, 10));
    assertEquals(List.of(7, 8, 9, 10, 11), received.stream().map(Frame::type).toList());
    assertArrayEquals(bytes(10, 1), received.get(0).payload());
    assertArrayEquals(new byte[0], received.get(1).payload());
    assertArrayEquals(Arrays.copyOfRange(bytes(100, 2), 10, 60), received.get(2).payload());
    assertArrayEquals(Arrays.copyOfRange(bytes(30, 3), 5, 25), received.get(3).payload());
    assertArrayEquals(bytes(40, 4), received.get(4).payload());
  }

  @Test
  void theHandlersViewIsReadOnlyAndBoundedToTheFrame() throws IOException {
    assertTrue(sender.offer(1, bytes(20, 1)));
    List<ByteBuffer> views = new ArrayList<>();
    receiver.poll(
        (type, payload) -> {
          assertTrue(payload.isReadOnly());
          assertEquals(20, payload.remaining());
          views.add(payload);
        },
        1);
    assertEquals(1, views.size());
  }

  @Test
  void bothDirectionsAreIndependent() throws IOException {
    assertTrue(attacher.sender().offer(3, bytes(5, 5)));
    assertEquals(0, receiver.poll(this::collect, 10));
    assertEquals(1, creator.receiver().poll(this::collect, 10));
    assertArrayEquals(bytes(5, 5), received.getFirst().payload());
  }

  @Test
  void pollStopsAtItsLimit() throws IOException {
    for (int i = 1; i <= 5; i++) {
      assertTrue(sender.offer(i, new byte[] {(byte) i}));
    }
    assertEquals(2, receiver.poll(this::collect, 2));
    assertEquals(3, receiver.poll(this::collect, 10));
    assertEquals(List.of(1, 2, 3, 4, 5), received.stream().map(Frame::type).toList());
  }

  @Test
  void aFullRingRefusesWithoutWritingUntilDrained() throws IOException {
    int accepted = 0;
    while (sender.offer(1, bytes(MAX_RECORD, accepted))) {
      accepted++;
    }
    assertEquals(7, accepted, "eight records of 520 bytes less Agrona's spare header");
    assertFalse(sender.offer(1, bytes(MAX_RECORD, -1)));
    // The next record wraps, so it needs room at the ring's start: two records' worth.
    assertEquals(1, receiver.poll(this::collect, 1));
    assertFalse(sender.offer(1, bytes(MAX_RECORD, -1)));
    assertEquals(1, receiver.poll(this::collect, 1));
    assertTrue(sender.offer(1, bytes(MAX_RECORD, accepted)));
    drain();
    assertEquals(accepted + 1, received.size());
    for (int i = 0; i <= accepted; i++) {
      assertArrayEquals(bytes(MAX_RECORD, i), received.get(i).payload(), "frame " + i);
    }
  }

  @Test
  void framesOfRandomSizesSurviveManyWrapArounds() throws IOException {
    SplittableRandom random = new SplittableRandom(42);
    List<Frame> sent = new ArrayList<>();
    long bytesSent = 0;
    while (sent.size() < 20_000) {
      int length =
          random.nextInt(10) == 0 ? random.nextInt(MAX_FRAME + 1) : random.nextInt(MAX_RECORD + 1);
      byte[] payload = bytes(length, sent.size());
      int type = 1 + sent.size() % 100;
      if (sender.offer(type, payload)) {
        sent.add(new Frame(type, payload));
        bytesSent += length;
      } else {
        receiver.poll(this::collect, random.nextInt(1, 8));
      }
    }
    drain();
    assertTrue(bytesSent > 500L * CAPACITY, "wrapped around " + bytesSent / CAPACITY + " times");
    assertEquals(sent.size(), received.size());
    for (int i = 0; i < sent.size(); i++) {
      assertEquals(sent.get(i).type(), received.get(i).type(), "type of frame " + i);
      assertArrayEquals(sent.get(i).payload(), received.get(i).payload(), "frame " + i);
    }
  }

  @Test
  void largeFramesAreFragmentedAndReassembled() throws IOException {
    assertTrue(sender.offer(5, bytes(MAX_RECORD + 1, 1)));
    assertTrue(sender.offer(6, bytes(3, 2)));
    assertTrue(sender.offer(7, bytes(MAX_FRAME, 3)));
    assertEquals(3, drain());
    assertEquals(List.of(5, 6, 7), received.stream().map(Frame::type).toList());
    assertArrayEquals(bytes(MAX_RECORD + 1, 1), received.get(0).payload());
    assertArrayEquals(bytes(3, 2), received.get(1).payload());
    assertArrayEquals(bytes(MAX_FRAME, 3), received.get(2).payload());
  }

  @Test
  void aFragmentedFrameIsWrittenWholeOrNotAtAll() throws IOException {
    for (int i = 0; i < 4; i++) {
      assertTrue(sender.offer(1, bytes(MAX_RECORD, i)));
    }
    assertFalse(sender.offer(2, bytes(MAX_FRAME, 9)), "no room for all its fragments");
    assertEquals(4, drain());
    assertTrue(sender.offer(2, bytes(MAX_FRAME, 9)));
    assertEquals(1, drain());
    assertArrayEquals(bytes(MAX_FRAME, 9), received.getLast().payload());
  }

  @Test
  void offerRejectsMisuseWithExactMessages() {
    assertEquals(
        "frame type 0 is not in [1, 65535]",
        assertThrows(IllegalArgumentException.class, () -> sender.offer(0, new byte[1]))
            .getMessage());
    assertEquals(
        "frame type 65536 is not in [1, 65535]",
        assertThrows(IllegalArgumentException.class, () -> sender.offer(65536, new byte[1]))
            .getMessage());
    assertEquals(
        "frame of 2049 bytes is not in [0, 2048], this link's largest frame",
        assertThrows(IllegalArgumentException.class, () -> sender.offer(1, new byte[MAX_FRAME + 1]))
            .getMessage());
  }

  @Test
  void encodersWriteInPlaceOrAbandonTheFrame() throws IOException {
    byte[] small = bytes(100, 1);
    byte[] large = bytes(MAX_FRAME, 2);
    assertTrue(sender.offer(1, small.length, destination -> destination.put(small)));
    assertTrue(sender.offer(2, large.length, destination -> destination.put(large)));
    IllegalStateException shortWrite =
        assertThrows(
            IllegalStateException.class,
            () -> sender.offer(3, 10, destination -> destination.put(new byte[9])));
    assertEquals("encoder wrote 9 bytes of a frame declared as 10", shortWrite.getMessage());
    assertThrows(
        ArithmeticException.class,
        () ->
            sender.offer(
                3,
                10,
                destination -> {
                  throw new ArithmeticException("encoder failed");
                }));
    assertTrue(sender.offer(4, 1, destination -> destination.put((byte) 42)));
    assertEquals(3, drain());
    assertEquals(List.of(1, 2, 4), received.stream().map(Frame::type).toList());
    assertArrayEquals(small, received.get(0).payload());
    assertArrayEquals(large, received.get(1).payload());
    assertArrayEquals(new byte[] {42}, received.get(2).payload());
  }

  @Test
  void aHandlerThatThrowsConsumesItsFrame() throws IOException {
    assertTrue(sender.offer(1, bytes(4, 1)));
    assertTrue(sender.offer(2, bytes(4, 2)));
    assertThrows(
        IllegalStateException.class,
        () ->
            receiver.poll(
                (type, payload) -> {
                  throw new IllegalStateException("handler failed");
                },
                1));
    assertEquals(1, drain());
    assertEquals(2, received.getFirst().type());
  }

  @Test
  void aHandlerMayNotReenterItsReceiverButMayCloseTheSegment() throws IOException {
    assertTrue(sender.offer(1, bytes(4, 1)));
    assertTrue(sender.offer(2, bytes(4, 2)));
    IllegalStateException reentry =
        assertThrows(
            IllegalStateException.class,
            () ->
                receiver.poll(
                    (type, payload) -> {
                      try {
                        receiver.poll(this::collect, 1);
                      } catch (CorruptFrameException e) {
                        throw new AssertionError(e);
                      }
                    },
                    1));
    assertEquals(
        "receiver of "
            + attacher.path()
            + " is already in use: one thread at a time, and not from its own handler",
        reentry.getMessage());
    int delivered =
        receiver.poll(
            (type, payload) -> {
              collect(type, payload);
              attacher.close();
            },
            10);
    assertEquals(1, delivered, "nothing delivered after the handler closed the segment");
    assertTrue(attacher.isClosed());
    assertThrows(IllegalStateException.class, () -> receiver.poll(this::collect, 1));
  }
}
