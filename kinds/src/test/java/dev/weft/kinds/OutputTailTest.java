package dev.weft.kinds;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class OutputTailTest {

  private static OutputTail drained(byte[] bytes) throws InterruptedException {
    OutputTail tail = OutputTail.start(new ByteArrayInputStream(bytes), "test");
    assertTrue(tail.awaitEnd(Duration.ofSeconds(10)));
    return tail;
  }

  @Test
  void keepsShortOutputWhole() throws InterruptedException {
    OutputTail tail = drained("hello\n".getBytes(StandardCharsets.UTF_8));
    assertEquals("hello\n", tail.text());
    assertFalse(tail.truncated());
  }

  @Test
  void keepsTheLastCapacityBytes() throws InterruptedException {
    byte[] bytes = new byte[3 * OutputTail.CAPACITY + 123];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) i;
    }
    OutputTail tail = drained(bytes);
    assertTrue(tail.truncated());
    assertArrayEquals(
        Arrays.copyOfRange(bytes, bytes.length - OutputTail.CAPACITY, bytes.length), tail.bytes());
  }

  @Test
  void keepsTheTailAcrossManySmallReads() throws InterruptedException {
    byte[] bytes = new byte[OutputTail.CAPACITY + 777];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i * 7);
    }
    InputStream trickle =
        new ByteArrayInputStream(bytes) {
          @Override
          public synchronized int read(byte[] b, int off, int len) {
            return super.read(b, off, Math.min(len, 5));
          }
        };
    OutputTail tail = OutputTail.start(trickle, "test");
    assertTrue(tail.awaitEnd(Duration.ofSeconds(10)));
    assertArrayEquals(
        Arrays.copyOfRange(bytes, bytes.length - OutputTail.CAPACITY, bytes.length), tail.bytes());
  }

  @Test
  void dropsACharacterCutInHalf() throws InterruptedException {
    // "é" is two bytes; 2049 of them put a cut in the middle of the first one kept.
    String text = "é".repeat(OutputTail.CAPACITY / 2 + 1) + "x";
    OutputTail tail = drained(text.getBytes(StandardCharsets.UTF_8));
    assertEquals("é".repeat(OutputTail.CAPACITY / 2 - 1) + "x", tail.text());
  }

  @Test
  void readErrorIsNotedInTheTail() throws InterruptedException {
    InputStream broken =
        new InputStream() {
          private int calls;

          @Override
          public int read() throws IOException {
            throw new IOException("unused");
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            if (calls++ == 0) {
              b[off] = 'a';
              return 1;
            }
            throw new IOException("Stream closed");
          }
        };
    OutputTail tail = OutputTail.start(broken, "test");
    assertTrue(tail.awaitEnd(Duration.ofSeconds(10)));
    assertEquals("a\n[weft: output cut short: Stream closed]\n", tail.text());
  }
}
