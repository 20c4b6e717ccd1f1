package dev.weft.coordinator;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The order in which jobs get free slots: priority classes strictly, highest first; within a class,
 * the owner with the fewest running tasks relative to its weight, then that owner's job with the
 * fewest running tasks relative to the job's weight (as Slurm's fair share and YARN's fair
 * scheduler do). Among equals, whoever reached that load first goes first, so equal jobs take
 * turns: with one owner and equal weights this is round-robin.
 *
 * <p>Owners and jobs wait in {@link LoadQueue}s, so a task taken or an attempt ended moves one job
 * and one owner in O(1) plus a lookup among a handful of distinct loads, whatever the number of
 * queued jobs or workers. A job's running tasks count from dispatch until its attempt leaves the
 * worker (result, loss, withdrawal), which is what a slot is held for. Conductor thread only.
 */
final class FairShare {
  // Bounds the jobs a single pick looks at when the first ones do not fit the worker (kind,
  // resources, labels), so a worker no job fits costs a bounded scan, not one of every job.
  static final int MAX_SCAN = 1_024;

  /** One job's place: its running tasks, and whether it waits for a slot (queued). */
  static final class Entry extends LoadQueue.Member {
    final JobRun job;
    private final double weight;
    private Share share;
    private int running;
    // When it last got a slot or began to wait for one, on the core's monotonic clock.
    private long waitingSinceNanos;
    // Its running count changed since it was last placed in its owner's queue.
    private boolean stale;
    private boolean gone;

    private Entry(JobRun job) {
      this.job = job;
      this.weight = job.weight();
    }

    int running() {
      return running;
    }

    long waitingSinceNanos() {
      return waitingSinceNanos;
    }

    int priority() {
      return share.level.priority;
    }

    private double load() {
      return running / weight;
    }
  }

  /** An owner's jobs in one priority class. */
  private static final class Share extends LoadQueue.Member {
    private final Level level;
    private final String owner;
    private final double weight;
    private final LoadQueue<Entry> queued = new LoadQueue<>();
    private int running;
    private int entries;
    private boolean stale;

    private Share(Level level, String owner, double weight) {
      this.level = level;
      this.owner = owner;
      this.weight = weight;
    }

    private double load() {
      return running / weight;
    }
  }

  private static final class Level {
    private final int priority;
    // The owners with queued jobs.
    private final LoadQueue<Share> waiting = new LoadQueue<>();
    private final Map<String, Share> owners = new HashMap<>();
    private int running;

    private Level(int priority) {
      this.priority = priority;
    }
  }

  // Highest class first.
  private final NavigableMap<Integer, Level> levels = new TreeMap<>(Comparator.reverseOrder());
  private final Map<JobRun, Entry> entries = new HashMap<>();
  private final OwnerWeights ownerWeights;
  private final CoreClock clock;
  // Entries and shares whose running counts fell since they were last placed: a returned slot
  // costs a counter, and the job moves once before the next pick however many of its attempts
  // ended.
  private final List<Entry> staleEntries = new ArrayList<>();
  private final List<Share> staleShares = new ArrayList<>();

  /** The weight of each owner's share (1 unless the operator says otherwise). */
  interface OwnerWeights {
    double of(String owner);
  }

  FairShare(OwnerWeights ownerWeights, CoreClock clock) {
    this.ownerWeights = ownerWeights;
    this.clock = clock;
  }

  /** The job's place, made on first use. */
  private Entry entry(JobRun job) {
    Entry entry = entries.get(job);
    if (entry == null) {
      entry = new Entry(job);
      join(entry, job.priority());
      entries.put(job, entry);
    }
    return entry;
  }

  /** The job has tasks to run: it waits for a slot (once). Returns whether it joined just now. */
  boolean queue(JobRun job) {
    Entry entry = entry(job);
    if (!entry.isQueued()) {
      entry.waitingSinceNanos = clock.nanoTime();
      addQueued(entry);
      return true;
    }
    return false;
  }

  /** The job has nothing more to run for now (ended, stopping, all tasks out). */
  void unqueue(JobRun job) {
    Entry entry = entries.get(job);
    if (entry != null && entry.isQueued()) {
      removeQueued(entry);
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
    placeStale();
    int scanned = 0;
    List<Entry> drained = null;
    try {
      for (Level level : levels.values()) {
        for (Share share = level.waiting.first();
            share != null;
            share = level.waiting.after(share)) {
          for (Entry entry = share.queued.first();
              entry != null;
              entry = share.queued.after(entry)) {
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
    Share share = entry.share;
    entry.running++;
    share.running++;
    share.level.running++;
    entry.stale = false;
    share.stale = false;
    share.queued.move(entry, entry.load());
    share.level.waiting.move(share, share.load());
    entry.waitingSinceNanos = clock.nanoTime();
    if (entry.isQueued() && !job.hasPending()) {
      unqueue(job);
    }
  }

  /** An attempt of {@code job} left its worker: its slot is free. */
  void returned(JobRun job) {
    Entry entry = entries.get(job);
    if (entry == null) {
      return;
    }
    Share share = entry.share;
    entry.running--;
    share.running--;
    share.level.running--;
    if (!entry.stale) {
      entry.stale = true;
      staleEntries.add(entry);
    }
    if (!share.stale) {
      share.stale = true;
      staleShares.add(share);
    }
    forgetIfIdle(entry);
  }

  private void placeStale() {
    if (staleEntries.isEmpty()) {
      return;
    }
    for (Entry entry : staleEntries) {
      if (entry.stale && !entry.gone) {
        entry.stale = false;
        entry.share.queued.move(entry, entry.load());
      }
    }
    staleEntries.clear();
    for (Share share : staleShares) {
      if (share.stale) {
        share.stale = false;
        share.level.waiting.move(share, share.load());
      }
    }
    staleShares.clear();
  }

  /** Moves the job to another class, with its running tasks. */
  void reprioritize(JobRun job, int priority) {
    Entry entry = entries.get(job);
    if (entry == null) {
      return;
    }
    placeStale();
    boolean wasQueued = entry.isQueued();
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
    placeStale();
    List<Entry> out = new ArrayList<>();
    for (Level level : levels.values()) {
      for (Share share = level.waiting.first(); share != null; share = level.waiting.after(share)) {
        for (Entry entry = share.queued.first(); entry != null; entry = share.queued.after(entry)) {
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

  /** How many jobs wait for a slot. */
  int queuedJobs() {
    int n = 0;
    for (Level level : levels.values()) {
      for (Share share = level.waiting.first(); share != null; share = level.waiting.after(share)) {
        n += share.queued.size();
      }
    }
    return n;
  }

  private void join(Entry entry, int priority) {
    Level level = levels.computeIfAbsent(priority, Level::new);
    String owner = entry.job.spec().getOwner();
    Share share = level.owners.get(owner);
    if (share == null) {
      share = new Share(level, owner, ownerWeights.of(owner));
      level.owners.put(owner, share);
    }
    entry.share = share;
    share.entries++;
    share.running += entry.running;
    level.running += entry.running;
    level.waiting.move(share, share.load());
  }

  private void leave(Entry entry) {
    Share share = entry.share;
    Level level = share.level;
    share.entries--;
    share.running -= entry.running;
    level.running -= entry.running;
    level.waiting.move(share, share.load());
    if (share.entries == 0) {
      level.waiting.remove(share);
      level.owners.remove(share.owner);
      if (level.owners.isEmpty()) {
        levels.remove(level.priority);
      }
    }
  }

  private void addQueued(Entry entry) {
    Share share = entry.share;
    entry.stale = false;
    share.queued.add(entry, entry.load());
    if (!share.isQueued()) {
      share.stale = false;
      share.level.waiting.add(share, share.load());
    }
  }

  private void removeQueued(Entry entry) {
    Share share = entry.share;
    share.queued.remove(entry);
    if (share.queued.isEmpty()) {
      share.level.waiting.remove(share);
    }
  }

  private void forgetIfIdle(Entry entry) {
    if (!entry.isQueued() && entry.running == 0) {
      leave(entry);
      entries.remove(entry.job);
      entry.gone = true;
    }
  }
}
