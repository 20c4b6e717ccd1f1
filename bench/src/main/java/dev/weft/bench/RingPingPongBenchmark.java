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
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Round trip of a 32-byte frame between two threads over one mapped segment: the benchmark thread
 * sends a ping on one ring and spins for the pong on the other; an echo thread sends each ping
 * back. The echo thread busy-polls ({@code spin}), waits the way a link does ({@code futex}: spin a
 * few µs, yield, then sleep on the futex; with pings back to back it rarely gets to sleep), or goes
 * straight to the futex sleep ({@code sleep}), which prices a wake-up per round trip.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Threads(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {
      "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
      "--enable-native-access=ALL-UNNAMED",
      "--sun-misc-unsafe-memory-access=allow"
    })
public class RingPingPongBenchmark {
  private static final int TYPE = 1;
  private static final long PAUSE_US = 200;

  @Param({"spin", "futex", "sleep"})
  String echoWait;

  private BenchSegments segments;
  private FrameSender pingSender;
  private FrameReceiver pongReceiver;
  private Thread echoThread;
  private volatile boolean running;
  private boolean sleepBetweenPings;
  private final ByteBuffer ping = ByteBuffer.allocateDirect(32);
  private final FrameHandler ignore = (type, frame) -> {};

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    segments =
        echoWait.equals("sleep") ? new BenchSegments(1 << 20, 0, 0) : new BenchSegments(1 << 20);
    pingSender = segments.creator.sender();
    pongReceiver = segments.creator.receiver();
    FrameReceiver pingReceiver = segments.attacher.receiver();
    FrameSender pongSender = segments.attacher.sender();
    boolean spin = echoWait.equals("spin");
    sleepBetweenPings = echoWait.equals("sleep");
    FrameHandler echo =
        (type, frame) -> {
          while (!pongSender.offer(type, frame)) {
            Thread.onSpinWait();
          }
        };
    running = true;
    echoThread =
        Thread.ofPlatform()
            .name("echo")
            .start(
                () -> {
                  try {
                    while (running) {
                      if (spin) {
                        if (pingReceiver.poll(echo, 16) == 0) {
                          Thread.onSpinWait();
                        }
                      } else {
                        pingReceiver.receive(echo, 16, TimeUnit.MILLISECONDS.toNanos(100));
                      }
                    }
                  } catch (CorruptFrameException e) {
                    throw new IllegalStateException(e);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
  }

  /** Untimed: lets the echo thread fall asleep before each ping in the {@code sleep} case. */
  @Setup(Level.Invocation)
  public void pause() {
    if (sleepBetweenPings) {
      long until = System.nanoTime() + TimeUnit.MICROSECONDS.toNanos(PAUSE_US);
      while (System.nanoTime() < until) {
        Thread.onSpinWait();
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    running = false;
    echoThread.join(TimeUnit.SECONDS.toMillis(10));
    segments.close();
  }

  @Benchmark
  public int roundTrip() throws CorruptFrameException {
    while (!pingSender.offer(TYPE, ping)) {
      Thread.onSpinWait();
    }
    int got;
    while ((got = pongReceiver.poll(ignore, 1)) == 0) {
      Thread.onSpinWait();
    }
    return got;
  }
}
