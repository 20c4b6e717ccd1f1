package dev.weft.client;

import io.grpc.Status;

/**
 * What the client throws when a call fails: the gRPC status code and the coordinator's own message
 * (or, when no coordinator answered, what went wrong on the way). Subclasses name the codes a
 * program handles differently; any other code arrives as a plain {@code WeftException}.
 */
public class WeftException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status.Code code;
  private final String address;

  WeftException(Status.Code code, String address, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
    this.address = address;
  }

  /** The call's status code ({@code UNKNOWN} for a failure of the client's own). */
  public Status.Code code() {
    return code;
  }

  /**
   * The coordinator the failed call went to, as {@code HOST:PORT} or {@code unix:PATH}; null when
   * it went to none.
   */
  public String address() {
    return address;
  }
}
