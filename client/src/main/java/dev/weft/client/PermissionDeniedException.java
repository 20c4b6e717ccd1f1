package dev.weft.client;

import io.grpc.Status;

/**
 * The coordinator knows the caller, who may not do this: a read-only token submitting, a submit
 * token cancelling another owner's job, exec without the grant.
 */
public final class PermissionDeniedException extends WeftException {
  private static final long serialVersionUID = 1L;

  PermissionDeniedException(String address, String message, Throwable cause) {
    super(Status.Code.PERMISSION_DENIED, address, message, cause);
  }
}
