package dev.weft.local;

import java.io.IOException;

/**
 * A segment file that cannot be attached as it is: not a weft segment, another major layout
 * version, sizes that do not add up, ring positions no producer could leave. The message names the
 * file and the field.
 */
public final class SegmentFormatException extends IOException {
  public SegmentFormatException(String message) {
    super(message);
  }
}
