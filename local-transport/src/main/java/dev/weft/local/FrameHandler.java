package dev.weft.local;

import java.nio.ByteBuffer;

/** Receives frames from a {@link FrameReceiver} or a {@link FrameReader}. */
@FunctionalInterface
public interface FrameHandler {
  /** Frame types are in [1, MAX_TYPE] on every link; each receiver may accept fewer. */
  int MAX_TYPE = 0xFFFF;

  /**
   * One frame. {@code payload} holds it from its position to its limit, and is valid only during
   * the call (it may be a view of shared memory that the producer reuses afterwards): parse or copy
   * it here, do not keep it.
   */
  void onFrame(int type, ByteBuffer payload);
}
