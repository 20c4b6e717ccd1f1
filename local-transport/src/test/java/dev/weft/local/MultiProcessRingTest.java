package dev.weft.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.posix.Signals;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two JVMs on one segment: millions of checked frames, an echo, and a producer killed mid-stream.
 */
@ExtendWith(TestSegments.class)
class MultiProcessRingTest {
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
  private static final long SEED = 20260101L;

  private final List<Process> children = new ArrayList<>();
  private final List<ShmSegment> segments = new ArrayList<>();

  @AfterEach
  void cleanUp() throws InterruptedException {
    for (Process child : children) {
      child.destroyForcibly();
      child.waitFor(10, TimeUnit.SECONDS);
    }
    segments.forEach(ShmSegment::close);
  }

  private ShmSegment create(ShmConfig config) throws IOException {
    ShmSegment segment = ShmSegment.create(config.maxFrameType(RingTraffic.END_TYPE));
    segments.add(segment);
    return segment;
  }

  private Process startPeer(ShmConfig config, String... roleArgs) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElseThrow());
    command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(RingPeer.class.getName());
    command.add(config.directory().toString());
    command.add(config.coordinatorId());
    command.add(config.linkId());
    command.addAll(List.of(roleArgs));
    Process process =
        new ProcessBuilder(command)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    children.add(process);
    return process;
  }

  /** Checks frames against {@link RingTraffic} as they arrive. */
  private static final class Checker implements FrameHandler {
    final RingTraffic traffic;
    final CRC32 crc = new CRC32();
    long frames;
    long bytes;
    ByteBuffer end;

    Checker(FrameReceiver receiver, FrameSender sender) {
      this.traffic = new RingTraffic(SEED, sender.maxRecordLength(), receiver.maxFrameLength());
    }

    @Override
    public void onFrame(int type, ByteBuffer payload) {
      if (type == RingTraffic.END_TYPE) {
        end = ByteBuffer.allocate(payload.remaining()).put(payload).flip();
        return;
      }
      int length = traffic.nextLength();
      if (type != RingTraffic.type(frames)
          || payload.remaining() != length
          || payload.mismatch(traffic.payload(frames, length)) != -1) {
        throw new AssertionError(
            "frame " + frames + ": type " + type + ", " + payload.remaining() + " bytes");
      }
      crc.update(payload);
      frames++;
      bytes += length;
    }
  }

  @Test
  void millionsOfFramesOfRandomSizesArriveIntactFromAnotherProcess() throws Exception {
    long count = 5_000_000;
    ShmConfig config = TestSegments.config();
    ShmSegment segment = create(config);
    Process producer = startPeer(config, "produce", Long.toString(count), Long.toString(SEED));
    Checker checker = new Checker(segment.receiver(), segment.sender());
    long deadline = System.nanoTime() + 60 * SECOND;
    while (checker.end == null) {
      // A producer still starting (slow under load) has not attached yet: it is not gone.
      if (segment.receiver().receive(checker, 256, SECOND) == 0
          && segment.isPeerAttached()
          && !segment.isPeerAlive()
          && segment.receiver().poll(checker, 256) == 0) {
        throw new AssertionError("producer gone after " + checker.frames + " frames, no end");
      }
      assertTrue(System.nanoTime() < deadline, "stalled after " + checker.frames + " frames");
    }
    assertEquals(count, checker.frames);
    assertEquals(count, checker.end.getLong());
    assertEquals(checker.crc.getValue(), checker.end.getLong(), "CRC32 of all payloads");
    assertTrue(
        checker.bytes > 100L * config.ringCapacity(),
        "wrapped around " + checker.bytes / config.ringCapacity() + " times");
    assertTrue(producer.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, producer.exitValue());
  }

  @Test
  void anotherProcessEchoesEveryFrame() throws Exception {
    long count = 500_000;
    ShmConfig config = TestSegments.config();
    ShmSegment segment = create(config);
    Process echo = startPeer(config, "echo");
    FrameSender sender = segment.sender();
    RingTraffic outgoing = new RingTraffic(SEED, sender.maxRecordLength(), sender.maxFrameLength());
    Checker checker = new Checker(segment.receiver(), sender);
    long sent = 0;
    int pendingLength = -1;
    long deadline = System.nanoTime() + 60 * SECOND;
    while (checker.end == null) {
      while (sent < count && sent - checker.frames < 256) {
        if (pendingLength < 0) {
          pendingLength = outgoing.nextLength();
        }
        if (!sender.offer(RingTraffic.type(sent), outgoing.payload(sent, pendingLength))) {
          break;
        }
        pendingLength = -1;
        sent++;
      }
      if (sent == count && checker.frames == count) {
        assertTrue(sender.offer(RingTraffic.END_TYPE, new byte[16]));
        sent++;
      }
      segment.receiver().receive(checker, 256, SECOND);
      assertTrue(System.nanoTime() < deadline, "stalled after " + checker.frames + " echoes");
    }
    assertEquals(count, checker.frames);
    assertTrue(echo.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, echo.exitValue());
  }

  @Test
  void aProducerKilledMidStreamDoesNotWedgeTheReader() throws Exception {
    ShmConfig config = TestSegments.config().parkTimeoutNs(TimeUnit.MILLISECONDS.toNanos(100));
    ShmSegment segment = create(config);
    Process flood = startPeer(config, "flood", Long.toString(SEED));
    Checker checker = new Checker(segment.receiver(), segment.sender());
    long deadline = System.nanoTime() + 60 * SECOND;
    while (checker.frames < 50_000) {
      segment.receiver().receive(checker, 256, SECOND);
      assertTrue(System.nanoTime() < deadline, "stalled after " + checker.frames + " frames");
    }
    assertTrue(segment.isPeerAlive());

    assertEquals(Signals.Result.SENT, Signals.kill(flood.pid(), Signals.SIGKILL));
    assertTrue(flood.waitFor(10, TimeUnit.SECONDS));

    // Whatever it published is still read; then every wait ends within its timeout.
    long timeout = TimeUnit.MILLISECONDS.toNanos(300);
    int emptyWaits = 0;
    while (emptyWaits < 3) {
      long start = System.nanoTime();
      if (segment.receiver().receive(checker, 256, timeout) == 0) {
        emptyWaits++;
        long waited = System.nanoTime() - start;
        assertTrue(waited < timeout + 2 * SECOND, "a wait took " + waited / 1_000_000 + " ms");
      }
      assertTrue(System.nanoTime() < deadline, "the reader wedged");
    }
    assertFalse(segment.isPeerAlive(), "the liveness check sees the producer gone");
    assertTrue(segment.isPeerStale(System.currentTimeMillis(), 500), "its heartbeat is stale");
    assertEquals(0, segment.receiver().poll(checker, 256));
  }
}
