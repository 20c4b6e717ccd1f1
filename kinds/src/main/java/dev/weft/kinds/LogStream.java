package dev.weft.kinds;

import java.util.Locale;

/** The output streams of a task that the worker keeps logs of. */
public enum LogStream {
  STDOUT,
  STDERR;

  /** The prefix of this stream's segment files in an attempt's log directory. */
  public String fileName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
