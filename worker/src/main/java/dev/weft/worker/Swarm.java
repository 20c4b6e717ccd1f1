package dev.weft.worker;

import dev.weft.kinds.JobKinds;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.Hello;
import dev.weft.v1.TaskResults;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

/**
 * Many workers in one process, for load: each has an Attach stream (and a TCP connection) of its
 * own and speaks the real worker protocol with the real worker code ({@link AttachLoop}, {@link
 * CoordinatorSession}, {@link TaskSlots}, {@link ResultBatcher}), announcing only the {@code noop}
 * kind. What a real worker has one of per process, they share: a small set of event loops, the
 * executor of their streams' callbacks (the event loop itself: a no-op task runs inline on the
 * reader, as on a real worker, and nothing here blocks), and one timer thread for their heartbeats.
 * Their attach loops and slot threads are virtual threads, which cost next to nothing while they
 * wait.
 */
public final class Swarm implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Swarm.class.getName());
  // Tasks of a session that ended were requeued elsewhere: stop them soon.
  private static final long LEAVE_GRACE_MS = 2_000;
  private static final Duration STOP_WAIT = Duration.ofSeconds(10);

  /**
   * @param coordinator HOST:PORT
   * @param security how to reach it (TLS checked against the join token, the token on calls)
   * @param eventLoops the event loop threads all the streams share
   */
  public record Options(
      String coordinator,
      ClientSecurity security,
      int workers,
      int slots,
      int prefetch,
      int eventLoops,
      String idPrefix) {
    public Options {
      if (workers < 1 || workers > 100_000) {
        throw new IllegalArgumentException("workers must be 1..100000, got " + workers);
      }
      if (eventLoops < 1) {
        throw new IllegalArgumentException("event loops must be at least 1, got " + eventLoops);
      }
    }
  }

  private final Options options;
  private final EventLoopGroup loops;
  private final UnaryOperator<NettyChannelBuilder> tuning;
  private final ScheduledThreadPoolExecutor timers;
  private final JobKinds kinds;
  private final List<Member> members = new ArrayList<>();
  private final CountDownLatch stopping = new CountDownLatch(1);
  private final AtomicInteger sessionsStarted = new AtomicInteger();
  private volatile String refusal;

  private Swarm(Options options) {
    this.options = options;
    this.kinds = JobKinds.load(Swarm.class.getClassLoader());
    ThreadFactory loopThreads = Thread.ofPlatform().name("swarm-loop-", 1).daemon().factory();
    boolean epoll = Epoll.isAvailable();
    this.loops =
        new MultiThreadIoEventLoopGroup(
            options.eventLoops(),
            loopThreads,
            epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
    this.tuning =
        builder ->
            builder
                .eventLoopGroup(loops)
                .channelType(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .directExecutor();
    ScheduledThreadPoolExecutor timer =
        new ScheduledThreadPoolExecutor(
            1, Thread.ofPlatform().name("swarm-timer").daemon().factory());
    timer.setRemoveOnCancelPolicy(true);
    this.timers = timer;
  }

  /** Starts every worker; they attach (and re-attach) in the background. */
  public static Swarm start(Options options) {
    options.security().conclude();
    Swarm swarm = new Swarm(options);
    int width = String.valueOf(options.workers()).length();
    for (int i = 1; i <= options.workers(); i++) {
      WorkerConfig config =
          new WorkerConfig()
              .join(options.coordinator())
              .id(options.idPrefix() + "-" + String.format("%0" + width + "d", i))
              .slots(options.slots())
              .prefetch(options.prefetch())
              .transport("grpc")
              .taskLogBytes(0)
              .security(options.security())
              .conclude();
      swarm.members.add(swarm.new Member(config));
    }
    for (Member member : swarm.members) {
      member.runner =
          Thread.ofVirtual().name("swarm-attach-" + member.config.id()).start(member.loop);
    }
    return swarm;
  }

  /** How many of the workers are attached (welcomed, their stream open) now. */
  public int attached() {
    int attached = 0;
    for (Member member : members) {
      if (member.attached()) {
        attached++;
      }
    }
    return attached;
  }

  /** Attach attempts so far, first ones and re-attaches alike. */
  public int sessionsStarted() {
    return sessionsStarted.get();
  }

  /**
   * Why the coordinator refused the workers for good (a token it does not accept, a certificate the
   * token does not pin); the swarm then stops. Empty otherwise.
   */
  public Optional<String> refusal() {
    return Optional.ofNullable(refusal);
  }

  /** Waits until the swarm stops (it was closed, or refused) or {@code timeout} passes. */
  public boolean awaitStop(Duration timeout) throws InterruptedException {
    return stopping.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Every worker says goodbye and its stream ends; then the shared threads stop. Idempotent. */
  @Override
  public void close() throws InterruptedException {
    stopping.countDown();
    List<Thread> closing = new ArrayList<>(members.size());
    for (Member member : members) {
      closing.add(
          Thread.ofVirtual().name("swarm-close-" + member.config.id()).start(member::close));
    }
    long deadline = System.nanoTime() + STOP_WAIT.toNanos();
    int unfinished = 0;
    for (Thread thread : closing) {
      long left = Math.max(1, deadline - System.nanoTime());
      if (!thread.join(Duration.ofNanos(left))) {
        unfinished++;
      }
    }
    if (unfinished > 0) {
      LOG.log(
          System.Logger.Level.WARNING,
          "{0} workers of the swarm had not closed within {1} s",
          unfinished,
          STOP_WAIT.toSeconds());
    }
    timers.shutdownNow();
    loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    if (!loops.terminationFuture().await(STOP_WAIT.toMillis())) {
      LOG.log(System.Logger.Level.WARNING, "the swarm's event loops had not stopped in time");
    }
  }

  private void refuse(String why) {
    synchronized (this) {
      if (refusal != null) {
        return;
      }
      refusal = why;
    }
    LOG.log(System.Logger.Level.ERROR, "{0}; the swarm stops", why);
    stopping.countDown();
  }

  /** One simulated worker: the parts a real one has, but the threads and loops it shares. */
  private final class Member implements SessionHost {
    private final WorkerConfig config;
    private final TaskSlots slots;
    private final ResultBatcher results;
    private final AttachLoop loop;
    private final Object state = new Object();
    private CoordinatorSession session; // guarded by state
    private boolean closed; // guarded by state
    private Thread runner;

    Member(WorkerConfig config) {
      this.config = config;
      this.results = new ResultBatcher(this::sendResults);
      this.slots =
          new TaskSlots(
              config.slots(),
              kinds,
              results::add,
              new TaskSlots.Listener() {
                @Override
                public void slotFreed() {
                  CoordinatorSession current = current();
                  if (current != null) {
                    current.slotFreed();
                  }
                }

                @Override
                public void stuck(int stuck) {
                  CoordinatorSession current = current();
                  if (current != null) {
                    current.stuckChanged();
                  }
                }
              },
              timers,
              null,
              TaskSlots.Tally.NONE,
              new SlotThreads(config.slots(), Thread.ofVirtual().name(config.id() + "-slot-", 1)));
      this.loop = new AttachLoop(config, this, tuning);
    }

    boolean attached() {
      CoordinatorSession current = current();
      return current != null && current.attached();
    }

    private CoordinatorSession current() {
      synchronized (state) {
        return session;
      }
    }

    private void sendResults(TaskResults batch) {
      CoordinatorSession current = current();
      if (current != null) {
        current.sendResults(batch);
      }
    }

    @Override
    public CoordinatorSession open(CoordinatorLink control) {
      CoordinatorSession next =
          new CoordinatorSession(
              control,
              slots,
              results,
              () -> Math.max(0, config.slots() - slots.stuck()) + config.prefetch(),
              timers,
              null,
              null,
              (transport, nanos) -> {});
      synchronized (state) {
        if (closed || stopping.getCount() == 0) {
          return null;
        }
        session = next;
      }
      sessionsStarted.incrementAndGet();
      return next;
    }

    @Override
    public void closed(CoordinatorSession finished) {
      synchronized (state) {
        if (session == finished) {
          session = null;
        }
      }
      slots.cancelAll(LEAVE_GRACE_MS);
    }

    @Override
    public Hello hello() {
      return Worker.hello(config, kinds, null).toBuilder().clearKinds().addKinds("noop").build();
    }

    @Override
    public boolean pause(long waitMs) {
      try {
        return !stopping.await(waitMs, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }

    @Override
    public void refusedForGood(String why) {
      refuse(why);
    }

    @Override
    public void stop() {
      refuse("worker " + config.id() + " lost its link for good");
    }

    void close() {
      CoordinatorSession current;
      synchronized (state) {
        if (closed) {
          return;
        }
        closed = true;
        current = session;
      }
      if (current != null) {
        current.leave("the swarm is stopping");
      }
      slots.shutdown(LEAVE_GRACE_MS);
      try {
        loop.shutdown(STOP_WAIT.toMillis());
        if (runner != null) {
          runner.join(STOP_WAIT);
        }
        slots.awaitTermination(STOP_WAIT.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
