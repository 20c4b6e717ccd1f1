package dev.weft.kinds;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/**
 * The last bytes of a child process's output stream, read to its end on a thread of its own: a
 * child blocked writing to a full pipe nobody reads would never exit, and a chatty one must not
 * fill the worker's memory.
 */
final class OutputTail {
  static final int CAPACITY = 4096;

  private final byte[] ring = new byte[CAPACITY];
  private long total;
  private final Thread reader;

  private OutputTail(InputStream in, String name, TaskLogSink log) {
    this.reader = Thread.ofVirtual().name(name).unstarted(() -> drain(in, log));
  }

  /** Starts reading {@code in} to its end; the stream is closed when it ends. */
  static OutputTail start(InputStream in, String name) {
    return start(in, name, TaskLogSink.DISCARD);
  }

  /**
   * Starts reading {@code in} to its end, writing every byte to {@code log} as well (on the reading
   * thread, outside the tail's lock); the stream and the log are closed when it ends.
   */
  static OutputTail start(InputStream in, String name, TaskLogSink log) {
    OutputTail tail = new OutputTail(in, name, log);
    tail.reader.start();
    return tail;
  }

  private void drain(InputStream in, TaskLogSink log) {
    byte[] buffer = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buffer)) != -1) {
        append(buffer, n);
        log.write(buffer, 0, n);
      }
    } catch (IOException e) {
      // The pipe of a killed process can break mid-read: keep what was read and say so in it.
      byte[] note =
          ("\n[weft: output cut short: " + e.getMessage() + "]\n").getBytes(StandardCharsets.UTF_8);
      append(note, note.length);
      log.write(note, 0, note.length);
    } finally {
      log.close();
    }
  }

  private synchronized void append(byte[] bytes, int length) {
    // Byte k of the stream lives in ring[k % CAPACITY]; bytes older than the last CAPACITY are
    // counted but never stored.
    int skipped = Math.max(0, length - CAPACITY);
    total += skipped;
    for (int i = skipped; i < length; i++) {
      ring[(int) (total++ % CAPACITY)] = bytes[i];
    }
  }

  /**
   * Waits up to {@code timeout} for the stream to end. It ends when every process holding the pipe
   * has exited, so a background child left by the task can hold it open.
   */
  boolean awaitEnd(Duration timeout) throws InterruptedException {
    return reader.join(timeout);
  }

  /** The bytes kept, at most {@link #CAPACITY}, oldest first. */
  synchronized byte[] bytes() {
    int kept = (int) Math.min(total, CAPACITY);
    byte[] out = new byte[kept];
    int start = (int) ((total - kept) % CAPACITY);
    for (int i = 0; i < kept; i++) {
      out[i] = ring[(start + i) % CAPACITY];
    }
    return out;
  }

  /** The tail as UTF-8, without the broken first character a cut can leave. */
  String text() {
    byte[] bytes = bytes();
    int start = 0;
    if (truncated()) {
      // Skip UTF-8 continuation bytes (10xxxxxx) left from a character cut in half.
      while (start < bytes.length && start < 3 && (bytes[start] & 0xC0) == 0x80) {
        start++;
      }
    }
    return new String(Arrays.copyOfRange(bytes, start, bytes.length), StandardCharsets.UTF_8);
  }

  synchronized boolean truncated() {
    return total > CAPACITY;
  }
}
