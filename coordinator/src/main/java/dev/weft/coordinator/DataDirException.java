package dev.weft.coordinator;

import java.io.IOException;

/**
 * The coordinator cannot use its data dir: another coordinator holds it, or it cannot be created,
 * read or written. The message names the directory and says what to do.
 */
public final class DataDirException extends IOException {
  DataDirException(String message) {
    super(message);
  }

  DataDirException(String message, Throwable cause) {
    super(message, cause);
  }
}
