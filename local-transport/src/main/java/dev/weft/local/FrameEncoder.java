package dev.weft.local;

import java.nio.ByteBuffer;

/** Writes a frame's payload straight into space claimed in a ring, to save a copy. */
@FunctionalInterface
public interface FrameEncoder {
  /**
   * Fills {@code destination} from its position to its limit exactly (the length declared to {@link
   * FrameSender#offer(int, int, FrameEncoder)}), leaving its position at the limit. A protobuf
   * message can do it with {@code message.writeTo(out)} then {@code out.flush()} on {@code out =
   * CodedOutputStream.newInstance(destination)}: the flush moves the position. Throwing aborts the
   * frame.
   */
  void encode(ByteBuffer destination);
}
