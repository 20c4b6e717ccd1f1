package dev.weft.local;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Reads the frames {@link FrameWriter} writes (format there) from a stream.
 *
 * <p>Lengths and types come from the other process and are checked before use: a length above the
 * maximum or a type outside [1, maxFrameType] is a {@link CorruptFrameException}, and the payload
 * buffer grows with the bytes that actually arrive, so a hostile length cannot make it allocate
 * more than the maximum or more than was sent. One thread at a time. Does not close the stream.
 */
public final class FrameReader {
  private static final int INITIAL_CHUNK = 1 << 16;

  private final InputStream in;
  private final int maxFrameLength;
  private final int maxFrameType;
  private final byte[] header = new byte[FrameWriter.HEADER_LENGTH];
  private byte[] payload = new byte[256];
  private ByteBuffer payloadView = ByteBuffer.wrap(payload);

  public FrameReader(InputStream in, int maxFrameLength, int maxFrameType) {
    this.in = Objects.requireNonNull(in, "in");
    if (maxFrameLength < 0) {
      throw new IllegalArgumentException("maxFrameLength " + maxFrameLength + " is negative");
    }
    if (maxFrameType < 1 || maxFrameType > FrameHandler.MAX_TYPE) {
      throw new IllegalArgumentException(
          "maxFrameType " + maxFrameType + " is not in [1, " + FrameHandler.MAX_TYPE + "]");
    }
    this.maxFrameLength = maxFrameLength;
    this.maxFrameType = maxFrameType;
  }

  /**
   * Reads one frame (blocking) and hands it to {@code handler}.
   *
   * @return false at a clean end of stream (between frames)
   * @throws EOFException if the stream ends inside a frame
   * @throws CorruptFrameException for a length over the maximum or an unknown type
   */
  public boolean read(FrameHandler handler) throws IOException {
    int got = in.readNBytes(header, 0, header.length);
    if (got == 0) {
      return false;
    }
    if (got < header.length) {
      throw new EOFException(
          "stream ended inside a frame header: " + got + " of " + header.length + " bytes");
    }
    long length =
        ((header[0] & 0xFFL) << 24)
            | ((header[1] & 0xFFL) << 16)
            | ((header[2] & 0xFFL) << 8)
            | (header[3] & 0xFFL);
    int type = ((header[4] & 0xFF) << 8) | (header[5] & 0xFF);
    if (length > maxFrameLength) {
      throw new CorruptFrameException(
          "frame length " + length + " exceeds the maximum of " + maxFrameLength);
    }
    if (type < 1 || type > maxFrameType) {
      throw new CorruptFrameException(
          "frame type " + type + " is not in [1, " + maxFrameType + "]");
    }
    int total = (int) length;
    int filled = 0;
    while (filled < total) {
      if (filled == payload.length) {
        grow(total);
      }
      int n = in.read(payload, filled, Math.min(payload.length, total) - filled);
      if (n < 0) {
        throw new EOFException(
            "stream ended inside a frame of type "
                + type
                + ": "
                + filled
                + " of "
                + total
                + " payload bytes");
      }
      filled += n;
    }
    payloadView.clear();
    handler.onFrame(type, payloadView.limit(total));
    return true;
  }

  private void grow(int total) {
    int size = (int) Math.min(total, Math.max((long) payload.length * 2, INITIAL_CHUNK));
    byte[] bigger = new byte[size];
    System.arraycopy(payload, 0, bigger, 0, payload.length);
    payload = bigger;
    payloadView = ByteBuffer.wrap(payload);
  }
}
