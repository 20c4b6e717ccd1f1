package dev.weft.coordinator;

import java.io.IOException;

/**
 * The coordinator cannot serve the Unix socket it was given ({@code --socket}, or the default one
 * when {@code --allow-uid} needs it). The message names the path and says why.
 */
public final class UnixSocketException extends IOException {
  UnixSocketException(String message, Throwable cause) {
    super(message, cause);
  }
}
