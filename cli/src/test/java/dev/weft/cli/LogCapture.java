package dev.weft.cli;

import java.text.MessageFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Collects what one class logs through {@link System.Logger} (backed by java.util.logging here), so
 * a test can tell which of several failures the code under test saw. Close it to detach.
 */
final class LogCapture implements AutoCloseable {
  // A strong reference: java.util.logging keeps loggers only weakly, and with them our handler.
  private final Logger logger;
  private final Level levelBefore;
  private final List<String> messages = new ArrayList<>();
  private final Handler handler =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          String text =
              record.getParameters() == null
                  ? record.getMessage()
                  : MessageFormat.format(record.getMessage(), record.getParameters());
          synchronized (messages) {
            messages.add(text);
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  /**
   * @param loggerName the logging class's name (it may be package-private elsewhere)
   */
  LogCapture(String loggerName) {
    this.logger = Logger.getLogger(loggerName);
    // Whatever an earlier command run in this JVM quieted (`weft bench` and `weft demo` set
    // dev.weft to WARNING), this logger passes everything while captured.
    this.levelBefore = logger.getLevel();
    logger.setLevel(Level.ALL);
    logger.addHandler(handler);
  }

  List<String> messages() {
    synchronized (messages) {
      return List.copyOf(messages);
    }
  }

  @Override
  public void close() {
    logger.removeHandler(handler);
    logger.setLevel(levelBefore);
  }
}
