package dev.weft.client;

import io.grpc.Status;

/**
 * The coordinator does not know the caller: no token, a wrong, revoked or expired one, or no client
 * certificate where one is required.
 */
public final class UnauthenticatedException extends WeftException {
  private static final long serialVersionUID = 1L;

  UnauthenticatedException(String address, String message, Throwable cause) {
    super(Status.Code.UNAUTHENTICATED, address, message, cause);
  }
}
