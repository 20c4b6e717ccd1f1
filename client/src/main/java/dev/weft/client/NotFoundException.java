package dev.weft.client;

import io.grpc.Status;

/** No such job or worker. */
public final class NotFoundException extends WeftException {
  private static final long serialVersionUID = 1L;

  NotFoundException(String address, String message, Throwable cause) {
    super(Status.Code.NOT_FOUND, address, message, cause);
  }
}
