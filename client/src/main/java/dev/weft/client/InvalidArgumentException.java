package dev.weft.client;

import io.grpc.Status;

/**
 * The coordinator refused the request as asked: a job spec it cannot run, with a message naming the
 * field.
 */
public final class InvalidArgumentException extends WeftException {
  private static final long serialVersionUID = 1L;

  InvalidArgumentException(String address, String message, Throwable cause) {
    super(Status.Code.INVALID_ARGUMENT, address, message, cause);
  }
}
