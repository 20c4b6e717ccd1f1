package dev.weft.coordinator;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;

/**
 * The one thread that owns the coordinator's state, as the conductor of Aeron's media driver: other
 * threads never touch that state, they {@link #post} commands (or {@link #ask} for an answer)
 * through a lock-free queue. Each duty cycle ({@link #doWork}) reads the clocks once, runs the
 * commands that arrived since the last cycle, the timers that came due and then the duties (such as
 * dispatching), so whatever arrived together goes out together.
 *
 * <p>Nothing here blocks or does I/O: links, watchers and the journal take what the conductor hands
 * them into outboxes of their own. Tests call {@link #doWork} themselves with clocks they advance,
 * and never start the thread.
 */
final class Conductor implements CoreClock, AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Conductor.class.getName());
  // Commands one cycle runs at most, so timers and duties are never starved by a flood.
  private static final int COMMAND_LIMIT = 4096;
  // The longest idle park: a bound on how late a timer can fire if a wake-up were lost.
  private static final long MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(100);

  /** A timer that can be called off before it fires. */
  interface Timer {
    void cancel();
  }

  private static final class Scheduled implements Timer, Comparable<Scheduled> {
    final long deadlineNs;
    final long order;
    final Runnable action;
    boolean cancelled;

    Scheduled(long deadlineNs, long order, Runnable action) {
      this.deadlineNs = deadlineNs;
      this.order = order;
      this.action = action;
    }

    @Override
    public void cancel() {
      cancelled = true;
    }

    @Override
    public int compareTo(Scheduled other) {
      int byTime = Long.compare(deadlineNs, other.deadlineNs);
      return byTime != 0 ? byTime : Long.compare(order, other.order);
    }
  }

  private final ManyToOneConcurrentLinkedQueue<Runnable> commands =
      new ManyToOneConcurrentLinkedQueue<>();
  private final PriorityQueue<Scheduled> timers = new PriorityQueue<>();
  private final List<Runnable> duties = new ArrayList<>();
  private final LongSupplier nanoClock;
  private final LongSupplier epochClock;
  private final IdleStrategy idle;
  private long nowNs;
  private long nowMs;
  private long timerOrder;
  private volatile Thread thread;
  private volatile boolean parked;
  private volatile boolean running;

  /**
   * @param nanoClock a monotonic clock in nanoseconds (deadlines, leases)
   * @param epochClock Unix time in milliseconds (what jobs record and show)
   */
  Conductor(LongSupplier nanoClock, LongSupplier epochClock) {
    this.nanoClock = nanoClock;
    this.epochClock = epochClock;
    this.idle = new IdleStrategy();
    this.nowNs = nanoClock.getAsLong();
    this.nowMs = epochClock.getAsLong();
  }

  /** Runs {@code duty} at the end of every cycle (after commands and timers). */
  void addDuty(Runnable duty) {
    duties.add(duty);
  }

  /** Hands a command to the conductor; any thread. */
  void post(Runnable command) {
    commands.offer(command);
    if (parked) {
      LockSupport.unpark(thread);
    }
  }

  /** Runs {@code query} on the conductor and completes with its value, on the conductor. */
  <T> CompletableFuture<T> ask(Supplier<T> query) {
    CompletableFuture<T> answer = new CompletableFuture<>();
    post(
        () -> {
          T value;
          try {
            value = query.get();
          } catch (RuntimeException e) {
            answer.completeExceptionally(e);
            return;
          }
          answer.complete(value);
        });
    return answer;
  }

  /** Runs {@code action} on the conductor after {@code delayMs}; conductor thread only. */
  Timer schedule(long delayMs, Runnable action) {
    Scheduled timer =
        new Scheduled(nowNs + TimeUnit.MILLISECONDS.toNanos(delayMs), timerOrder++, action);
    timers.add(timer);
    return timer;
  }

  /** The monotonic time of this cycle, in nanoseconds. */
  @Override
  public long nanoTime() {
    return nowNs;
  }

  /**
   * The monotonic clock read now rather than at the start of the cycle, for timing what a cycle's
   * own length would blur (link round trips); any thread.
   */
  long nanoTimeNow() {
    return nanoClock.getAsLong();
  }

  /** The Unix time of this cycle, in milliseconds. */
  @Override
  public long epochMs() {
    return nowMs;
  }

  /** One duty cycle; returns how much work it found (0: idle). */
  int doWork() {
    nowNs = nanoClock.getAsLong();
    nowMs = epochClock.getAsLong();
    int work = 0;
    Runnable command;
    while (work < COMMAND_LIMIT && (command = commands.poll()) != null) {
      run(command);
      work++;
    }
    Scheduled due;
    while ((due = timers.peek()) != null && due.deadlineNs - nowNs <= 0) {
      timers.poll();
      if (!due.cancelled) {
        run(due.action);
        work++;
      }
    }
    for (Runnable duty : duties) {
      run(duty);
    }
    return work;
  }

  private static void run(Runnable action) {
    // A failing command must not stop the thread every other caller depends on.
    try {
      action.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "a coordinator command failed", e);
    }
  }

  /** Starts the conductor's thread. */
  void start() {
    running = true;
    thread = Thread.ofPlatform().name("weft-conductor").daemon(true).start(this::runLoop);
  }

  boolean onConductorThread() {
    return Thread.currentThread() == thread;
  }

  private void runLoop() {
    while (running) {
      if (doWork() > 0) {
        idle.reset();
        continue;
      }
      if (idle.idleWithoutPark()) {
        continue;
      }
      parked = true;
      // Re-checked after announcing the park: a poster either sees `parked` or we see its command.
      if (commands.isEmpty() && running) {
        LockSupport.parkNanos(this, parkNanos());
      }
      parked = false;
    }
  }

  private long parkNanos() {
    Scheduled next = timers.peek();
    if (next == null) {
      return MAX_PARK_NS;
    }
    return Math.clamp(next.deadlineNs - nanoClock.getAsLong(), 1, MAX_PARK_NS);
  }

  /** Stops the thread after the cycle under way; commands still queued are not run. */
  @Override
  public void close() {
    running = false;
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
      try {
        t.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * What the conductor does when a cycle found nothing: spin for a moment where there are cores to
   * spare, then yield for a bounded time, then park until a command or timer wakes it. On two cores
   * a spinning conductor would take the CPU the gRPC and link threads feeding it need.
   */
  static final class IdleStrategy {
    private static final boolean SPIN = Runtime.getRuntime().availableProcessors() >= 4;
    private static final long SPIN_NS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final long YIELD_NS = TimeUnit.MICROSECONDS.toNanos(50);
    private long idleSinceNs = -1;

    void reset() {
      idleSinceNs = -1;
    }

    /** True while the caller should poll again at once (after a spin or a yield). */
    boolean idleWithoutPark() {
      long now = System.nanoTime();
      if (idleSinceNs < 0) {
        idleSinceNs = now;
      }
      long idleNs = now - idleSinceNs;
      if (SPIN && idleNs < SPIN_NS) {
        Thread.onSpinWait();
        return true;
      }
      if (idleNs < YIELD_NS + (SPIN ? SPIN_NS : 0)) {
        Thread.yield();
        return true;
      }
      return false;
    }
  }
}
