package dev.weft.coordinator;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Heartbeat;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Every heartbeat interval: beats to each worker, and the end of those silent past their lease or
 * whose credentials were revoked. The cost is one pass over the workers per interval, whatever the
 * task rate. Conductor thread only.
 *
 * <p>Each beat also times the link: it carries our clock, which the worker echoes at once on the
 * same link (see {@code Heartbeat} in worker_service.proto), so round trips are measured once per
 * interval per worker and never cost task traffic anything.
 */
final class Leases {

  /** What becomes of a worker whose lease check failed. */
  interface Verdicts {
    void revoked(AttachedWorker worker);

    void silent(AttachedWorker worker, String reason);
  }

  /** Upper bounds of the round-trip buckets, in seconds; the last bucket is +Inf. */
  static final double[] ROUND_TRIP_BOUNDS_SECONDS = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5
  };

  private final long leaseMs;
  private final CoreClock clock;
  private final LongSupplier nowNanos;

  /**
   * @param clock the cycle's time, for leases
   * @param nowNanos the same clock read at the moment of sending, for round trips
   */
  Leases(long leaseMs, CoreClock clock, LongSupplier nowNanos) {
    this.leaseMs = leaseMs;
    this.clock = clock;
    this.nowNanos = nowNanos;
  }

  void check(WorkerRegistry workers, Verdicts verdicts) {
    long now = clock.nanoTime();
    long leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMs);
    long sentUnixMs = clock.epochMs();
    for (AttachedWorker worker : workers.snapshot()) {
      if (worker.link().revoked()) {
        verdicts.revoked(worker);
      } else if (now - worker.lastSeenNanos() > leaseNanos) {
        verdicts.silent(
            worker, String.format(Locale.ROOT, "silent for more than its lease of %d ms", leaseMs));
      } else {
        worker.link().send(beat(worker, sentUnixMs));
      }
    }
  }

  private CoordinatorMessage beat(AttachedWorker worker, long sentUnixMs) {
    long sent = nowNanos.getAsLong();
    Heartbeat.Builder beat =
        Heartbeat.newBuilder()
            .setSentUnixMs(sentUnixMs)
            // Zero means "not set" on the wire; a clock that reads exactly zero is off by one.
            .setSentNanos(sent == 0 ? 1 : sent);
    worker.echo(beat, sent);
    return CoordinatorMessage.newBuilder().setHeartbeat(beat).build();
  }
}
