package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Heartbeat;
import dev.weft.wire.Transport;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Link round trips timed on heartbeats, on the core with a hand-driven clock: the coordinator's
 * beat carries its clock, the worker's answer echoes it, and the next beat echoes the worker's
 * clock back with how long the coordinator held it.
 */
class LinkRoundTripTest {

  private static List<Heartbeat> beats(CoreHarness.Link link) {
    return link.sent.stream()
        .filter(CoordinatorMessage::hasHeartbeat)
        .map(CoordinatorMessage::getHeartbeat)
        .toList();
  }

  @Test
  void anAnswerTimesTheLinkAndTheNextBeatEchoesTheWorkersClockOnce() {
    CoreHarness.Time time = new CoreHarness.Time();
    try (CoreHarness core = new CoreHarness(time)) {
      CoreHarness.Link link = core.attach("w1", 1);
      core.advance(CoreHarness.HEARTBEAT_MS);
      Heartbeat beat = beats(link).getLast();
      assertEquals(time.nanos, beat.getSentNanos(), "the beat carries the clock when it left");
      assertEquals(0, beat.getEchoNanos(), "nothing to echo yet");

      long roundTripNanos = TimeUnit.MICROSECONDS.toNanos(250);
      time.nanos += roundTripNanos;
      long arrived = time.nanos;
      core.scheduler.heartbeat(
          link.worker,
          Heartbeat.newBuilder().setEchoNanos(beat.getSentNanos()).setSentNanos(777).build(),
          arrived);
      LatencyBuckets grpc = core.scheduler.gauges().roundTrips().of(Transport.GRPC);
      assertEquals(1, grpc.count());
      assertEquals(0.000_250, grpc.sumSeconds(), 1e-12);
      assertEquals(0, core.scheduler.gauges().roundTrips().of(Transport.SHM).count());

      core.advance(CoreHarness.HEARTBEAT_MS);
      Heartbeat next = beats(link).getLast();
      assertEquals(777, next.getEchoNanos(), "the worker's clock goes back");
      assertEquals(next.getSentNanos() - arrived, next.getHeldNanos(), "with how long it waited");

      core.advance(CoreHarness.HEARTBEAT_MS);
      assertEquals(0, beats(link).getLast().getEchoNanos(), "an echo goes back once");
      // A plain beat from the worker (not an answer) times nothing, nor does an echo of a clock
      // reading that never was.
      core.scheduler.heartbeat(link.worker, Heartbeat.getDefaultInstance(), time.nanos);
      core.scheduler.heartbeat(
          link.worker, Heartbeat.newBuilder().setEchoNanos(time.nanos + 1).build(), time.nanos);
      assertEquals(1, core.scheduler.gauges().roundTrips().of(Transport.GRPC).count());
    }
  }
}
