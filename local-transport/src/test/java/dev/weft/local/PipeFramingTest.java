package dev.weft.local;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PipeFramingTest {
  private static final int MAX = 1 << 20;

  record Frame(int type, byte[] payload) {}

  private final List<Frame> frames = new ArrayList<>();

  private void collect(int type, ByteBuffer payload) {
    byte[] bytes = new byte[payload.remaining()];
    payload.get(bytes);
    frames.add(new Frame(type, bytes));
  }

  private static byte[] bytes(int length, int seed) {
    byte[] bytes = new byte[length];
    new SplittableRandom(seed).nextBytes(bytes);
    return bytes;
  }

  @Test
  void theFormatIsALengthAndATypeInBigEndian() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new FrameWriter(out, MAX).write(0x0102, new byte[] {9, 8, 7});
    assertEquals("00000003" + "0102" + "090807", HexFormat.of().formatHex(out.toByteArray()));
  }

  @Test
  void framesRoundTripUntilACleanEnd() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    FrameWriter writer = new FrameWriter(out, MAX);
    writer.write(1, bytes(0, 1));
    writer.write(65535, bytes(300_000, 2));
    writer.write(3, ByteBuffer.wrap(bytes(50, 3)));
    ByteBuffer direct = ByteBuffer.allocateDirect(70_000).put(bytes(70_000, 4)).flip();
    writer.write(4, direct);
    assertFalse(direct.hasRemaining());
    writer.flush();
    FrameReader reader = new FrameReader(new ByteArrayInputStream(out.toByteArray()), MAX, 65535);
    while (reader.read(this::collect)) {
      // collect them all
    }
    assertEquals(List.of(1, 65535, 3, 4), frames.stream().map(Frame::type).toList());
    assertArrayEquals(bytes(300_000, 2), frames.get(1).payload());
    assertArrayEquals(bytes(50, 3), frames.get(2).payload());
    assertArrayEquals(bytes(70_000, 4), frames.get(3).payload());
  }

  @Test
  void aTruncatedHeaderOrPayloadIsAnEofError() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new FrameWriter(out, MAX).write(2, bytes(100, 1));
    byte[] whole = out.toByteArray();
    EOFException header =
        assertThrows(EOFException.class, () -> reader(Arrays.copyOf(whole, 3)).read(this::collect));
    assertEquals("stream ended inside a frame header: 3 of 6 bytes", header.getMessage());
    EOFException payload =
        assertThrows(
            EOFException.class, () -> reader(Arrays.copyOf(whole, 56)).read(this::collect));
    assertEquals(
        "stream ended inside a frame of type 2: 50 of 100 payload bytes", payload.getMessage());
    assertEquals(List.of(), frames);
  }

  @Test
  void anOversizedLengthIsRejectedBeforeAnythingIsAllocated() {
    byte[] hostile = HexFormat.of().parseHex("7fffffff0001");
    CorruptFrameException e =
        assertThrows(CorruptFrameException.class, () -> reader(hostile).read(this::collect));
    assertEquals("frame length 2147483647 exceeds the maximum of 1048576", e.getMessage());
    byte[] huge = HexFormat.of().parseHex("ffffffff0001");
    assertEquals(
        "frame length 4294967295 exceeds the maximum of 1048576",
        assertThrows(CorruptFrameException.class, () -> reader(huge).read(this::collect))
            .getMessage());
  }

  @Test
  void aLengthWithinTheMaximumButNoDataDoesNotAllocateIt() {
    // Claims a whole MiB, sends 10 bytes: fails without allocating what was not sent.
    byte[] claim = new byte[6 + 10];
    System.arraycopy(HexFormat.of().parseHex("001000000001"), 0, claim, 0, 6);
    EOFException e = assertThrows(EOFException.class, () -> reader(claim).read(this::collect));
    assertEquals(
        "stream ended inside a frame of type 1: 10 of 1048576 payload bytes", e.getMessage());
  }

  @Test
  void anUnknownTypeIsRejected() {
    byte[] type0 = HexFormat.of().parseHex("000000000000");
    assertEquals(
        "frame type 0 is not in [1, 10]",
        assertThrows(
                CorruptFrameException.class,
                () -> new FrameReader(new ByteArrayInputStream(type0), MAX, 10).read(this::collect))
            .getMessage());
    byte[] type11 = HexFormat.of().parseHex("00000000000b");
    assertThrows(
        CorruptFrameException.class,
        () -> new FrameReader(new ByteArrayInputStream(type11), MAX, 10).read(this::collect));
  }

  @Test
  void theWriterRefusesWhatTheReaderWould() {
    FrameWriter writer = new FrameWriter(new ByteArrayOutputStream(), 10);
    assertEquals(
        "frame of 11 bytes exceeds the maximum of 10",
        assertThrows(IllegalArgumentException.class, () -> writer.write(1, new byte[11]))
            .getMessage());
    assertThrows(IllegalArgumentException.class, () -> writer.write(0, new byte[1]));
  }

  @Test
  void framesCrossARealPipeBetweenThreads() throws Exception {
    try (PipedInputStream in = new PipedInputStream(1 << 16)) {
      PipedOutputStream pipe = new PipedOutputStream(in);
      CompletableFuture<Void> writing =
          CompletableFuture.runAsync(
              () -> {
                // The writing side owns its end and closes it: that is the reader's EOF.
                try (PipedOutputStream out = pipe) {
                  FrameWriter writer = new FrameWriter(out, MAX);
                  for (int i = 0; i < 1000; i++) {
                    writer.write(1 + i % 7, bytes(i * 37 % 5000, i));
                  }
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      FrameReader reader = new FrameReader(in, MAX, 7);
      while (reader.read(this::collect)) {
        // until the writer closes
      }
      writing.get(10, TimeUnit.SECONDS);
    }
    assertEquals(1000, frames.size());
    for (int i = 0; i < 1000; i++) {
      assertEquals(1 + i % 7, frames.get(i).type());
      assertArrayEquals(bytes(i * 37 % 5000, i), frames.get(i).payload());
    }
    assertTrue(frames.stream().anyMatch(f -> f.payload().length > 4000));
  }

  private static FrameReader reader(byte[] input) {
    InputStream in = new ByteArrayInputStream(input);
    return new FrameReader(in, MAX, 100);
  }
}
