package dev.weft.kinds;

import com.google.protobuf.ByteString;

/**
 * A task that ran and failed on its own terms (a non-zero exit, an input it rejects), as opposed to
 * a worker that could not run it. Carries an optional output that describes the failure.
 */
public final class TaskFailedException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient ByteString output;

  public TaskFailedException(String message, ByteString output) {
    super(message);
    this.output = output == null ? ByteString.EMPTY : output;
  }

  public TaskFailedException(String message) {
    this(message, ByteString.EMPTY);
  }

  public ByteString output() {
    return output;
  }
}
