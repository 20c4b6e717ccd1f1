package dev.weft.client;

import io.grpc.Status;

/**
 * The client refused the coordinator: its certificate does not match the token's pin or the CA
 * file, or lacks the host name connected to. Not a passing trouble, so never tried again: the token
 * belongs to another coordinator, or the name to check is another ({@code withServerName}).
 */
public final class UntrustedCoordinatorException extends WeftException {
  private static final long serialVersionUID = 1L;

  UntrustedCoordinatorException(String address, String message, Throwable cause) {
    super(Status.Code.UNAVAILABLE, address, message, cause);
  }
}
