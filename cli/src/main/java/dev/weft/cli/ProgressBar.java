package dev.weft.cli;

import dev.weft.v1.JobState;
import java.io.Console;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * One line on stderr, redrawn in place at most ten times a second: tasks done of total, the rate
 * and the time left; while the job waits for others, that it does; once the job is cancelling, how
 * many tasks are still stopping. Only for terminals; piped output gets no bar.
 */
final class ProgressBar implements JobWatcher.Listener {
  private static final long REDRAW_NANOS = 100_000_000L;
  private static final int WIDTH = 30;

  private final PrintWriter err;
  private final LongSupplier nanoTime;
  private long lastDraw = Long.MIN_VALUE;
  private long startNanos = -1;
  private int startDone;
  private boolean drawn;
  private boolean cancelling;
  private boolean waiting;
  private Counts last; // of the last progress event; null before the first

  private record Counts(int done, int failed, int running, int total) {}

  ProgressBar(PrintWriter err, LongSupplier nanoTime) {
    this.err = err;
    this.nanoTime = nanoTime;
  }

  /** True when a person is watching: stdin and stdout are a terminal. */
  static boolean interactive() {
    Console console = System.console();
    return console != null && console.isTerminal();
  }

  @Override
  public synchronized void progress(int done, int failed, int running, int total) {
    long now = nanoTime.getAsLong();
    if (startNanos < 0) {
      startNanos = now;
      startDone = done;
    }
    last = new Counts(done, failed, running, total);
    boolean complete = total > 0 && done + failed >= total;
    // While cancelling, every event counts (a skipped one would leave a stale count up, as no
    // further event may come until the job ends); they are few by then.
    if (!complete && !cancelling && lastDraw != Long.MIN_VALUE && now - lastDraw < REDRAW_NANOS) {
      return;
    }
    draw(now);
  }

  @Override
  public synchronized void state(JobState state) {
    if (waiting != (state == JobState.WAITING)) {
      waiting = state == JobState.WAITING;
      if (last != null) {
        draw(nanoTime.getAsLong());
      }
    }
    if (state == JobState.CANCELLING && !cancelling) {
      cancelling = true;
      if (last != null) {
        draw(nanoTime.getAsLong());
      }
    }
  }

  private void draw(long now) {
    lastDraw = now;
    err.print("\r" + line(last, now) + "\u001b[K");
    err.flush();
    drawn = true;
  }

  private String line(Counts counts, long now) {
    int done = counts.done();
    int failed = counts.failed();
    int total = counts.total();
    int filled = total <= 0 ? 0 : (int) ((long) WIDTH * Math.min(done, total) / total);
    StringBuilder line = new StringBuilder("[");
    line.repeat('#', filled).repeat('.', WIDTH - filled).append("] ");
    line.append(done).append('/').append(total).append(" tasks");
    if (failed > 0) {
      line.append(", ").append(failed).append(" failed");
    }
    if (waiting) {
      return line.append("  waiting for the jobs it depends on").toString();
    }
    if (cancelling) {
      return line.append("  cancelling: ")
          .append(counts.running())
          .append(" still stopping")
          .toString();
    }
    double seconds = (now - startNanos) / 1e9;
    int progressed = done - startDone;
    if (seconds >= 0.2 && progressed > 0) {
      double rate = progressed / seconds;
      line.append(String.format(Locale.ROOT, "  %.1f tasks/s", rate));
      int left = total - done - failed;
      if (left > 0) {
        line.append("  ETA ").append(eta(left / rate));
      }
    }
    return line.toString();
  }

  private static String eta(double seconds) {
    long s = (long) Math.ceil(seconds);
    return s < 60
        ? s + "s"
        : s < 3600 ? s / 60 + "m" + s % 60 + "s" : s / 3600 + "h" + s / 60 % 60 + "m";
  }

  /** Removes the bar so the result starts on a clean line. */
  synchronized void clear() {
    if (drawn) {
      err.print("\r\u001b[K");
      err.flush();
      drawn = false;
    }
  }
}
