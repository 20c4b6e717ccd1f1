package dev.weft.kinds;

/** A job spec that cannot run; the message names the field and says what is allowed. */
public final class InvalidJobException extends Exception {
  private static final long serialVersionUID = 1L;

  private final String field;

  public InvalidJobException(String field, String message) {
    super(field + ": " + message);
    this.field = field;
  }

  /** The offending field, in the JobSpec's own naming ({@code sum.from}, {@code tasks}). */
  public String field() {
    return field;
  }
}
