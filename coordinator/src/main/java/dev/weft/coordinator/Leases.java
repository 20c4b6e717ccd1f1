package dev.weft.coordinator;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Heartbeat;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Every heartbeat interval: beats to each worker, and the end of those silent past their lease or
 * whose credentials were revoked. The cost is one pass over the workers per interval, whatever the
 * task rate. Conductor thread only.
 */
final class Leases {

  /** What becomes of a worker whose lease check failed. */
  interface Verdicts {
    void revoked(AttachedWorker worker);

    void silent(AttachedWorker worker, String reason);
  }

  private final long leaseMs;
  private final CoreClock clock;

  Leases(long leaseMs, CoreClock clock) {
    this.leaseMs = leaseMs;
    this.clock = clock;
  }

  void check(WorkerRegistry workers, Verdicts verdicts) {
    long now = clock.nanoTime();
    long leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMs);
    CoordinatorMessage beat =
        CoordinatorMessage.newBuilder()
            .setHeartbeat(Heartbeat.newBuilder().setSentUnixMs(clock.epochMs()))
            .build();
    for (AttachedWorker worker : workers.snapshot()) {
      if (worker.link().revoked()) {
        verdicts.revoked(worker);
      } else if (now - worker.lastSeenNanos() > leaseNanos) {
        verdicts.silent(
            worker, String.format(Locale.ROOT, "silent for more than its lease of %d ms", leaseMs));
      } else {
        worker.link().send(beat);
      }
    }
  }
}
