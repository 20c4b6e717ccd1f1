package dev.weft.wire;

import io.grpc.Metadata;
import io.grpc.Status;
import java.util.Optional;

/**
 * How a standby coordinator points callers at its leader: it answers every JobService and
 * WorkerService call with UNAVAILABLE, the message {@code this coordinator is a standby; the leader
 * is at HOST:PORT}, and the leader's {@code HOST:PORT} in the {@link #LEADER} trailer (absent when
 * it does not know the leader).
 */
public final class Leaders {
  /** The trailer naming the leader, {@code HOST:PORT}. */
  public static final Metadata.Key<String> LEADER =
      Metadata.Key.of("weft-leader", Metadata.ASCII_STRING_MARSHALLER);

  /** How a standby's message starts, with or without a known leader. */
  public static final String STANDBY_MESSAGE = "this coordinator is a standby";

  private Leaders() {}

  /** The leader a failed call's trailers name, if any. */
  public static Optional<String> hint(Throwable failure) {
    Metadata trailers = Status.trailersFromThrowable(failure);
    if (trailers == null) {
      return Optional.empty();
    }
    String leader = trailers.get(LEADER);
    return leader == null || leader.isBlank() ? Optional.empty() : Optional.of(leader.strip());
  }

  /** Whether a standby gave this answer: the call was not acted on. */
  public static boolean isStandby(Status status, Optional<String> hint) {
    return status.getCode() == Status.Code.UNAVAILABLE
        && (hint.isPresent()
            || (status.getDescription() != null
                && status.getDescription().startsWith(STANDBY_MESSAGE)));
  }

  /**
   * Whether a failed call never reached a coordinator that could act on it: the connection was
   * refused or could not be made (nothing was sent), or a standby answered. Anything else
   * UNAVAILABLE (a stream that broke) may have been acted on.
   */
  public static boolean notActedOn(Throwable failure) {
    Status status = Status.fromThrowable(failure);
    if (status.getCode() != Status.Code.UNAVAILABLE) {
      return false;
    }
    if (isStandby(status, hint(failure))) {
      return true;
    }
    for (Throwable cause = status.getCause(); cause != null; cause = cause.getCause()) {
      if (cause instanceof java.net.ConnectException
          || cause instanceof java.net.UnknownHostException
          || cause instanceof java.net.NoRouteToHostException) {
        return true;
      }
    }
    return false;
  }
}
