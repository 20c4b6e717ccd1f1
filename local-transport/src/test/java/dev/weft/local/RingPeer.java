package dev.weft.local;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

/**
 * The other process of {@link MultiProcessRingTest}: attaches to a segment and plays one role.
 *
 * <ul>
 *   <li>{@code produce COUNT SEED}: sends COUNT frames of {@link RingTraffic}, then an end frame
 *       with the count and the CRC32 of every payload.
 *   <li>{@code echo}: sends back every frame it receives, until (and including) the end frame.
 *   <li>{@code flood SEED}: sends frames until killed, heartbeating as it goes.
 * </ul>
 *
 * Exits 0 when its role is done, 2 if it could not attach, 3 on a corrupt frame.
 */
public final class RingPeer {
  private RingPeer() {}

  public static void main(String[] args) throws Exception {
    ShmConfig config =
        new ShmConfig()
            .directory(Path.of(args[0]))
            .coordinatorId(args[1])
            .linkId(args[2])
            .maxFrameType(RingTraffic.END_TYPE);
    String role = args[3];
    try (ShmSegment segment = ShmSegment.attach(config)) {
      switch (role) {
        case "produce" -> produce(segment, Long.parseLong(args[4]), Long.parseLong(args[5]));
        case "echo" -> echo(segment);
        case "flood" -> flood(segment, Long.parseLong(args[4]));
        default -> throw new IllegalArgumentException("unknown role " + role);
      }
    } catch (CorruptFrameException e) {
      e.printStackTrace();
      System.exit(3);
    }
  }

  private static void produce(ShmSegment segment, long count, long seed) {
    FrameSender sender = segment.sender();
    RingTraffic traffic = new RingTraffic(seed, sender.maxRecordLength(), sender.maxFrameLength());
    CRC32 crc = new CRC32();
    for (long i = 0; i < count; i++) {
      int length = traffic.nextLength();
      ByteBuffer payload = traffic.payload(i, length);
      offer(sender, RingTraffic.type(i), payload);
      crc.update(payload.duplicate());
    }
    ByteBuffer end = ByteBuffer.allocate(16).putLong(count).putLong(crc.getValue()).flip();
    offer(sender, RingTraffic.END_TYPE, end);
  }

  private static void echo(ShmSegment segment) throws Exception {
    FrameSender sender = segment.sender();
    FrameReceiver receiver = segment.receiver();
    boolean[] ended = {false};
    while (!ended[0]) {
      receiver.receive(
          (type, payload) -> {
            offer(sender, type, payload);
            ended[0] |= type == RingTraffic.END_TYPE;
          },
          64,
          TimeUnit.SECONDS.toNanos(1));
      if (segment.isPeerClosed()) {
        return;
      }
    }
  }

  private static void flood(ShmSegment segment, long seed) {
    FrameSender sender = segment.sender();
    RingTraffic traffic = new RingTraffic(seed, sender.maxRecordLength(), sender.maxFrameLength());
    for (long i = 0; ; i++) {
      int length = traffic.nextLength();
      while (!sender.offer(RingTraffic.type(i), traffic.payload(i, length))) {
        segment.heartbeat(System.currentTimeMillis());
        Thread.yield();
      }
      if ((i & 1023) == 0) {
        segment.heartbeat(System.currentTimeMillis());
      }
    }
  }

  /** Offers until the ring takes the frame: the reader drains it. */
  private static void offer(FrameSender sender, int type, ByteBuffer payload) {
    int spins = 0;
    while (!sender.offer(type, payload)) {
      if (++spins > 100) {
        Thread.yield();
      } else {
        Thread.onSpinWait();
      }
    }
  }
}
