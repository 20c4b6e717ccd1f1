package dev.weft.coordinator;

import java.util.ArrayList;
import java.util.List;

/**
 * The client stream outboxes that got messages during the current duty cycle: they are written once
 * at its end, so a burst of events goes out as one batch per stream. A conductor duty.
 */
final class Outboxes implements Runnable {
  private final List<StreamOutbox<?>> dirty = new ArrayList<>();

  void markDirty(StreamOutbox<?> outbox) {
    if (!outbox.dirty) {
      outbox.dirty = true;
      dirty.add(outbox);
    }
  }

  @Override
  public void run() {
    if (dirty.isEmpty()) {
      return;
    }
    for (StreamOutbox<?> outbox : dirty) {
      outbox.dirty = false;
      outbox.flush();
    }
    dirty.clear();
  }
}
