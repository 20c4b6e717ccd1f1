package dev.weft.coordinator;

import java.io.IOException;

/**
 * The coordinator cannot serve the HTTP port it was given ({@code --http-listen}). The message
 * names the address, says why and what to do.
 */
public final class HttpListenException extends IOException {
  HttpListenException(String message, Throwable cause) {
    super(message, cause);
  }
}
