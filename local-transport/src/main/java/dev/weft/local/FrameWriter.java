package dev.weft.local;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes length-delimited frames to a stream (a child's stdin, our stdout), for {@link FrameReader}
 * at the other end.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |              Payload length (uint32, big-endian)              |
 *  +-------------------------------+-------------------------------+
 *  |  Frame type (uint16, BE)      |  Payload ...                  |
 *  +-------------------------------+                               |
 *  ...                                                             |
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * The frame type is in [1, {@link FrameHandler#MAX_TYPE}], as on the rings. Safe for several
 * threads: each frame is written whole. Frames are buffered by the stream you pass; call {@link
 * #flush()} when the peer should see them. Does not close the stream: whoever opened it does.
 */
public final class FrameWriter {
  /** Bytes before each payload: a 4-byte length and a 2-byte type. */
  public static final int HEADER_LENGTH = Integer.BYTES + Short.BYTES;

  private final OutputStream out;
  private final int maxFrameLength;
  private final byte[] header = new byte[HEADER_LENGTH];
  private final ReentrantLock lock = new ReentrantLock();

  public FrameWriter(OutputStream out, int maxFrameLength) {
    this.out = Objects.requireNonNull(out, "out");
    if (maxFrameLength < 0) {
      throw new IllegalArgumentException("maxFrameLength " + maxFrameLength + " is negative");
    }
    this.maxFrameLength = maxFrameLength;
  }

  public int maxFrameLength() {
    return maxFrameLength;
  }

  public void write(int type, byte[] payload) throws IOException {
    write(type, payload, 0, payload.length);
  }

  /**
   * Writes one frame.
   *
   * @throws IllegalArgumentException for a type outside [1, MAX_TYPE] or a payload over the max
   */
  public void write(int type, byte[] payload, int offset, int length) throws IOException {
    Objects.checkFromIndexSize(offset, length, payload.length);
    check(type, length);
    lock.lock();
    try {
      putHeader(type, length);
      out.write(header);
      out.write(payload, offset, length);
    } finally {
      lock.unlock();
    }
  }

  /** Writes the bytes between {@code payload}'s position and limit; its position moves to limit. */
  public void write(int type, ByteBuffer payload) throws IOException {
    int length = payload.remaining();
    check(type, length);
    lock.lock();
    try {
      putHeader(type, length);
      out.write(header);
      if (payload.hasArray()) {
        out.write(payload.array(), payload.arrayOffset() + payload.position(), length);
        payload.position(payload.limit());
      } else {
        byte[] chunk = new byte[Math.min(length, 1 << 16)];
        while (payload.hasRemaining()) {
          int n = Math.min(chunk.length, payload.remaining());
          payload.get(chunk, 0, n);
          out.write(chunk, 0, n);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  public void flush() throws IOException {
    lock.lock();
    try {
      out.flush();
    } finally {
      lock.unlock();
    }
  }

  private void check(int type, int length) {
    FrameTypeDescriptor.checkType(type);
    if (length > maxFrameLength) {
      throw new IllegalArgumentException(
          "frame of " + length + " bytes exceeds the maximum of " + maxFrameLength);
    }
  }

  private void putHeader(int type, int length) {
    header[0] = (byte) (length >>> 24);
    header[1] = (byte) (length >>> 16);
    header[2] = (byte) (length >>> 8);
    header[3] = (byte) length;
    header[4] = (byte) (type >>> 8);
    header[5] = (byte) type;
  }
}
