package dev.weft.client;

import io.grpc.Status;
import java.util.List;

/**
 * No coordinator could serve the call: none listens at the address, none answered in time, the
 * connection broke, or no leader was found among the addresses given within the client's patience.
 * {@link #reason()} says which, for a program (the {@code weft} command) that words it its own way.
 */
public final class UnavailableException extends WeftException {
  private static final long serialVersionUID = 1L;

  /** Why no coordinator served the call. */
  public enum Reason {
    /** The connection was refused or failed, or no answer came in time; {@link #detail} says. */
    UNREACHABLE,
    /**
     * Nothing to talk with: no token given or found for the address (on loopback, most likely no
     * coordinator of this user runs there). Nothing was sent.
     */
    NO_CREDENTIALS,
    /** The client's and the coordinator's TLS settings do not match; {@link #detail} says how. */
    TLS_MISMATCH,
    /** The coordinator's Unix socket does not let this user in ({@link #detail}: its path). */
    SOCKET_DENIED,
    /** Something answered that is not a weft coordinator. */
    NOT_A_COORDINATOR,
    /**
     * The connection broke after a submission or cancel was sent to a single coordinator: it may
     * have been acted on. (With several addresses, a submission is sent again to the leader.)
     */
    MAYBE_ACTED_ON,
    /** Several addresses were given and none led within the patience; the cause is the last try. */
    NO_LEADER,
    /**
     * The thread was interrupted while the client looked for the leader (its flag is set again).
     */
    INTERRUPTED
  }

  private final Reason reason;
  private final String detail;
  private final List<String> tried;

  UnavailableException(
      Status.Code code,
      Reason reason,
      String address,
      String detail,
      List<String> tried,
      String message,
      Throwable cause) {
    super(code, address, message, cause);
    this.reason = reason;
    this.detail = detail;
    this.tried = List.copyOf(tried);
  }

  /** Why no coordinator served the call. */
  public Reason reason() {
    return reason;
  }

  /**
   * What went wrong, in a few words ("connection refused", "no connection within 10s", how the TLS
   * settings differ, the socket's path, what the other server said).
   */
  public String detail() {
    return detail;
  }

  /** For {@link Reason#NO_LEADER}: every address tried; else just {@link #address()}. */
  public List<String> tried() {
    return tried;
  }
}
