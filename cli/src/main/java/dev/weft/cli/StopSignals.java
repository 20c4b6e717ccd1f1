package dev.weft.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * "First signal: stop gracefully; second signal: stop now", for SIGINT and SIGTERM. A JVM shutdown
 * hook cannot do this: the JVM would still exit with 128+signal, and a second Ctrl-C during the
 * hooks is ignored. The JVM runs each handler on a thread of its own, so a handler may block.
 * {@link #close()} puts the previous handlers back.
 */
final class StopSignals implements AutoCloseable {
  private final List<Signal> signals = new ArrayList<>();
  private final List<SignalHandler> previous = new ArrayList<>();

  private StopSignals() {}

  static StopSignals handle(Runnable first, Runnable again, String... names) {
    AtomicInteger received = new AtomicInteger();
    SignalHandler handler =
        signal -> {
          if (received.incrementAndGet() == 1) {
            first.run();
          } else {
            again.run();
          }
        };
    StopSignals installed = new StopSignals();
    for (String name : names) {
      Signal signal = new Signal(name);
      installed.previous.add(Signal.handle(signal, handler));
      installed.signals.add(signal);
    }
    return installed;
  }

  @Override
  public void close() {
    for (int i = 0; i < signals.size(); i++) {
      Signal.handle(signals.get(i), previous.get(i));
    }
  }
}
