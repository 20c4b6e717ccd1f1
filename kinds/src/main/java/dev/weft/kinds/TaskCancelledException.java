package dev.weft.kinds;

import dev.weft.v1.StopOutcome;
import java.util.Objects;

/**
 * A cancelled task stopped, and how: a kind that stops something outside the JVM (a process group)
 * says whether it exited on SIGTERM or had to be killed. Kinds that only check {@link
 * TaskContext#isCancelled()} may throw a plain {@link InterruptedException}, which means {@link
 * StopOutcome#STOPPED}.
 */
public final class TaskCancelledException extends InterruptedException {
  private static final long serialVersionUID = 1L;

  private final StopOutcome outcome;
  private final String detail;

  /**
   * @param outcome how the task ended
   * @param detail what happened, for people: "exited on SIGTERM after 12 ms"
   */
  public TaskCancelledException(StopOutcome outcome, String detail) {
    super("task cancelled: " + detail);
    this.outcome = Objects.requireNonNull(outcome, "outcome");
    this.detail = Objects.requireNonNull(detail, "detail");
  }

  public StopOutcome outcome() {
    return outcome;
  }

  public String detail() {
    return detail;
  }
}
