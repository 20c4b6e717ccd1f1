package dev.weft.kinds;

/** A task output the kind's reduction cannot use; the task counts as failed. */
public final class InvalidTaskOutputException extends Exception {
  private static final long serialVersionUID = 1L;

  public InvalidTaskOutputException(String message) {
    super(message);
  }

  public InvalidTaskOutputException(String message, Throwable cause) {
    super(message, cause);
  }
}
