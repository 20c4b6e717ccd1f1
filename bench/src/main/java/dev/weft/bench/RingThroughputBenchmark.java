package dev.weft.bench;

import dev.weft.local.CorruptFrameException;
import dev.weft.local.FrameHandler;
import dev.weft.local.FrameReceiver;
import dev.weft.local.FrameSender;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One thread offers a frame into a ring of a mapped /dev/shm segment and polls it back out: the
 * cost of the ring itself (copy in, validation, delivery), with no other thread or wake-up.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {
      "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
      "--enable-native-access=ALL-UNNAMED",
      "--sun-misc-unsafe-memory-access=allow"
    })
public class RingThroughputBenchmark {
  private static final int BATCH = 16;

  @Param({"32", "1024", "65536"})
  int frameBytes;

  private BenchSegments segments;
  private FrameSender sender;
  private FrameReceiver receiver;
  private ByteBuffer payload;
  private FrameHandler handler;

  @Setup(Level.Trial)
  public void setUp(Blackhole blackhole) throws IOException {
    segments = new BenchSegments(4 << 20);
    sender = segments.creator.sender();
    receiver = segments.attacher.receiver();
    payload = ByteBuffer.allocateDirect(frameBytes);
    // Reads the payload's first and last byte, as a parser would touch it.
    handler =
        (type, frame) -> {
          blackhole.consume(frame.get(frame.position()));
          blackhole.consume(frame.get(frame.limit() - 1));
        };
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    segments.close();
  }

  /** Offer one frame, poll one frame. */
  @Benchmark
  public int offerPoll() throws CorruptFrameException {
    if (!sender.offer(1, payload)) {
      throw new IllegalStateException("ring full in a one-frame round");
    }
    return receiver.poll(handler, 1);
  }

  /** Offer {@value #BATCH} frames, then poll them all: what a busy link does. */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public int offerPollBatch() throws CorruptFrameException {
    for (int i = 0; i < BATCH; i++) {
      if (!sender.offer(1, payload)) {
        throw new IllegalStateException("ring full within a batch");
      }
    }
    int polled = 0;
    while (polled < BATCH) {
      polled += receiver.poll(handler, BATCH);
    }
    return polled;
  }
}
