package dev.weft.coordinator;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * The order in which jobs get free slots: priority classes strictly, highest first; within a class,
 * the owner with the fewest running tasks relative to its weight, then that owner's job with the
 * fewest running tasks relative to the job's weight (as Slurm's fair share and YARN's fair
 * scheduler do). Ties go to whoever was served least recently, so equal jobs take turns: with one
 * owner and equal weights this is round-robin.
 *
 * <p>Every change (a task taken, an attempt ending, a job queued) moves one job and one owner in
 * sorted sets, so a decision costs O(log jobs), whatever the number of queued jobs or workers. A
 * job's running tasks count from dispatch until its attempt leaves the worker (result, loss,
 * withdrawal), which is what a slot is held for. Conductor thread only.
 */
final class FairShare {
  // Bounds the jobs a single pick looks at when the first ones do not fit the worker (kind,
  // resources, labels), so a worker no job fits costs a bounded scan, not one of every job.
  static final int MAX_SCAN = 1_024;

  /** One job's place: its running tasks, and whether it waits for a slot (queued). */
  static final class Entry {
    final JobRun job;
    private final long seq;
    private Share share;
    private int running;
    private long lastServed;
    private boolean queued;
    // When it last got a slot or began to wait for one, on the core's monotonic clock.
    private long waitingSinceNanos;

    private Entry(JobRun job, long seq) {
      this.job = job;
      this.seq = seq;
      this.lastServed = seq;
    }

    int running() {
      return running;
    }

    boolean queued() {
      return queued;
    }

    long waitingSinceNanos() {
      return waitingSinceNanos;
    }

    int priority() {
      return share.level.priority;
    }

    private double load() {
      return running / job.weight();
    }
  }

  /** An owner's jobs in one priority class. */
  private static final class Share {
    private final Level level;
    private final String owner;
    private final double weight;
    private final long seq;
    private final TreeSet<Entry> queued = new TreeSet<>(ENTRY_ORDER);
    private int running;
    private int entries;
    private long lastServed;

    private Share(Level level, String owner, double weight, long seq) {
      this.level = level;
      this.owner = owner;
      this.weight = weight;
      this.seq = seq;
      this.lastServed = seq;
    }

    private double load() {
      return running / weight;
    }
  }

  private static final class Level {
    private final int priority;
    private final TreeSet<Share> waiting = new TreeSet<>(SHARE_ORDER);
    private final Map<String, Share> owners = new HashMap<>();
    private int running;

    private Level(int priority) {
      this.priority = priority;
    }
  }

  private static final Comparator<Entry> ENTRY_ORDER =
      Comparator.<Entry>comparingDouble(Entry::load)
          .thenComparingLong(e -> e.lastServed)
          .thenComparingLong(e -> e.seq);
  private static final Comparator<Share> SHARE_ORDER =
      Comparator.<Share>comparingDouble(Share::load)
          .thenComparingLong(s -> s.lastServed)
          .thenComparingLong(s -> s.seq);

  // Highest class first.
  private final NavigableMap<Integer, Level> levels = new TreeMap<>(Comparator.reverseOrder());
  private final Map<JobRun, Entry> entries = new HashMap<>();
  private final OwnerWeights ownerWeights;
  private final CoreClock clock;
  private long sequence;

  /** The weight of each owner's share (1 unless the operator says otherwise). */
  interface OwnerWeights {
    double of(String owner);
  }

  FairShare(OwnerWeights ownerWeights, CoreClock clock) {
    this.ownerWeights = ownerWeights;
    this.clock = clock;
  }

  /** The job's place, made on first use. */
  Entry entry(JobRun job) {
    Entry entry = entries.get(job);
    if (entry == null) {
      entry = new Entry(job, ++sequence);
      join(entry, job.priority());
      entries.put(job, entry);
    }
    return entry;
  }

  /** The job has tasks to run: it waits for a slot (once). */
  void queue(JobRun job) {
    Entry entry = entry(job);
    if (!entry.queued) {
      entry.queued = true;
      entry.waitingSinceNanos = clock.nanoTime();
      addQueued(entry);
    }
  }

  /** The job has nothing more to run for now (ended, stopping, all tasks out). */
  void unqueue(JobRun job) {
    Entry entry = entries.get(job);
    if (entry != null && entry.queued) {
      removeQueued(entry);
      entry.queued = false;
      forgetIfIdle(entry);
    }
  }

  boolean isEmpty() {
    for (Level level : levels.values()) {
      if (!level.waiting.isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /**
   * The first queued job, in fair order, that {@code fits} accepts; null when none does among the
   * first {@link #MAX_SCAN} looked at. Queued jobs with nothing left to run are dropped on the way.
   */
  JobRun pick(Predicate<JobRun> fits) {
    int scanned = 0;
    List<Entry> drained = null;
    try {
      for (Level level : levels.values()) {
        for (Share share : level.waiting) {
          for (Entry entry : share.queued) {
            if (!entry.job.hasPending()) {
              if (drained == null) {
                drained = new ArrayList<>();
              }
              drained.add(entry);
              continue;
            }
            if (fits.test(entry.job)) {
              return entry.job;
            }
            if (++scanned >= MAX_SCAN) {
              return null;
            }
          }
        }
      }
      return null;
    } finally {
      if (drained != null) {
        for (Entry entry : drained) {
          unqueue(entry.job);
        }
      }
    }
  }

  /** A task of {@code job} went to a worker: it and its owner move back in line. */
  void taken(JobRun job) {
    Entry entry = entry(job);
    long now = ++sequence;
    reposition(entry, +1, now);
    entry.waitingSinceNanos = clock.nanoTime();
    if (entry.queued && !job.hasPending()) {
      unqueue(job);
    }
  }

  /** An attempt of {@code job} left its worker: its slot is free. */
  void returned(JobRun job) {
    Entry entry = entries.get(job);
    if (entry == null) {
      return;
    }
    reposition(entry, -1, 0);
    forgetIfIdle(entry);
  }

  /** Moves the job to another class, with its running tasks. */
  void reprioritize(JobRun job, int priority) {
    Entry entry = entries.get(job);
    if (entry == null) {
      return;
    }
    boolean wasQueued = entry.queued;
    if (wasQueued) {
      removeQueued(entry);
    }
    leave(entry);
    join(entry, priority);
    if (wasQueued) {
      addQueued(entry);
    }
  }

  /** The lowest class with running tasks, or null when nothing runs. */
  Integer lowestRunningClass() {
    for (Level level : levels.descendingMap().values()) {
      if (level.running > 0) {
        return level.priority;
      }
    }
    return null;
  }

  /**
   * Queued jobs of the highest class that have waited since {@code sinceNanos} or longer with
   * pending tasks, at most {@code limit} of them; empty when none has.
   */
  List<Entry> starving(long sinceNanos, int limit) {
    List<Entry> out = new ArrayList<>();
    for (Level level : levels.values()) {
      for (Share share : level.waiting) {
        for (Entry entry : share.queued) {
          if (entry.job.hasPending() && entry.waitingSinceNanos <= sinceNanos) {
            out.add(entry);
            if (out.size() >= limit) {
              return out;
            }
          }
        }
      }
      if (!out.isEmpty()) {
        return out;
      }
    }
    return out;
  }

  /** The place of {@code job}, or null when it neither waits nor runs. */
  Entry find(JobRun job) {
    return entries.get(job);
  }

  private void join(Entry entry, int priority) {
    Level level = levels.computeIfAbsent(priority, Level::new);
    String owner = entry.job.spec().getOwner();
    Share share = level.owners.get(owner);
    if (share == null) {
      share = new Share(level, owner, ownerWeights.of(owner), ++sequence);
      level.owners.put(owner, share);
    }
    entry.share = share;
    share.entries++;
    share.running += entry.running;
    level.running += entry.running;
  }

  private void leave(Entry entry) {
    Share share = entry.share;
    Level level = share.level;
    boolean shareWaiting = level.waiting.remove(share);
    share.entries--;
    share.running -= entry.running;
    level.running -= entry.running;
    if (shareWaiting && !share.queued.isEmpty()) {
      level.waiting.add(share);
    }
    if (share.entries == 0) {
      level.owners.remove(share.owner);
      if (level.owners.isEmpty()) {
        levels.remove(level.priority);
      }
    }
  }

  private void addQueued(Entry entry) {
    Share share = entry.share;
    boolean wasWaiting = !share.queued.isEmpty();
    share.queued.add(entry);
    if (!wasWaiting) {
      share.level.waiting.add(share);
    }
  }

  private void removeQueued(Entry entry) {
    Share share = entry.share;
    share.queued.remove(entry);
    if (share.queued.isEmpty()) {
      share.level.waiting.remove(share);
    }
  }

  /**
   * Changes the running count of an entry and its owner, keeping both sets sorted; {@code served}
   * (non-zero) also marks both as served now.
   */
  private void reposition(Entry entry, int delta, long served) {
    Share share = entry.share;
    Level level = share.level;
    boolean entryQueued = entry.queued && share.queued.remove(entry);
    boolean shareWaiting = level.waiting.remove(share);
    entry.running += delta;
    share.running += delta;
    level.running += delta;
    if (served != 0) {
      entry.lastServed = served;
      share.lastServed = served;
    }
    if (entryQueued) {
      share.queued.add(entry);
    }
    if (shareWaiting) {
      level.waiting.add(share);
    }
  }

  private void forgetIfIdle(Entry entry) {
    if (!entry.queued && entry.running == 0) {
      leave(entry);
      entries.remove(entry.job);
    }
  }

  /** How many jobs wait for a slot. */
  int queuedJobs() {
    int n = 0;
    for (Level level : levels.values()) {
      for (Iterator<Share> it = level.waiting.iterator(); it.hasNext(); ) {
        n += it.next().queued.size();
      }
    }
    return n;
  }
}
