package dev.weft.coordinator;

import java.io.IOException;

/**
 * The coordinator cannot start on its journal's database: it cannot be reached, refuses the user or
 * password, or holds a schema this weft cannot use. The message names the database (never the
 * password) and what to check.
 */
public final class JournalUnavailableException extends IOException {
  JournalUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
