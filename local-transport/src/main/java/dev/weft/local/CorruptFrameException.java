package dev.weft.local;

import java.io.IOException;

/**
 * A frame read from a ring or a pipe breaks the framing rules (a length or type that no
 * well-behaved peer writes, a record running past the ring, fragments out of order). Nothing of the
 * bad frame was read out of bounds or delivered; the channel cannot be trusted any more and should
 * be closed.
 */
public final class CorruptFrameException extends IOException {
  public CorruptFrameException(String message) {
    super(message);
  }
}
