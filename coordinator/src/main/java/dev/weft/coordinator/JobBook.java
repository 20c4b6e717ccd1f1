package dev.weft.coordinator;

import dev.weft.v1.Job;
import dev.weft.v1.JobState;
import io.grpc.Status;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Every job the coordinator knows, by id, in submission order: new ids, lookups, the waiters for a
 * job's end, and forgetting finished jobs past the retention (here and in the journal). Conductor
 * thread only.
 */
final class JobBook {
  private static final int ID_CHARS = 10;
  private static final char[] ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz".toCharArray();

  private final Journal journal;
  private final int retainedFinished;
  // DRBG draws from memory once seeded: ids are made on the conductor, which must not read
  // /dev/urandom per job.
  private final SecureRandom random = drbg();
  private final Map<String, JobRun> jobs = new LinkedHashMap<>();
  // Finished jobs, oldest end first: the order they are forgotten in.
  private final ArrayDeque<String> finishedOrder = new ArrayDeque<>();
  private final Map<String, CompletableFuture<Job>> waiters = new HashMap<>();

  JobBook(Journal journal, int retainedFinished) {
    this.journal = journal;
    this.retainedFinished = retainedFinished;
  }

  private static SecureRandom drbg() {
    try {
      return SecureRandom.getInstance("DRBG");
    } catch (java.security.NoSuchAlgorithmException e) {
      return new SecureRandom();
    }
  }

  /** An id no job has. */
  String newId() {
    byte[] bits = new byte[ID_CHARS];
    while (true) {
      random.nextBytes(bits);
      StringBuilder id = new StringBuilder("j");
      for (int i = 0; i < ID_CHARS; i++) {
        id.append(ID_ALPHABET[(bits[i] & 0xff) % ID_ALPHABET.length]);
      }
      String candidate = id.toString();
      if (!jobs.containsKey(candidate)) {
        return candidate;
      }
    }
  }

  void add(JobRun job) {
    jobs.put(job.id(), job);
  }

  /**
   * Takes the jobs a journal kept across a restart; the finished ones queue for forgetting oldest
   * first, ahead of any that end from now on.
   */
  void addRestored(Collection<JobRun> restored) {
    List<JobRun> finishedBefore = new ArrayList<>();
    for (JobRun run : restored) {
      jobs.put(run.id(), run);
      if (run.isFinished()) {
        finishedBefore.add(run);
      }
    }
    finishedBefore.sort(Comparator.comparingLong(JobRun::finishedMs));
    finishedBefore.forEach(run -> finishedOrder.addLast(run.id()));
    pruneFinished();
  }

  /** The job, or null when there is none by that id (any more). */
  JobRun get(String id) {
    return jobs.get(id);
  }

  /** The job, or NOT_FOUND saying where to look. */
  JobRun find(String id) {
    JobRun job = jobs.get(id);
    if (job == null) {
      throw Status.NOT_FOUND
          .withDescription(
              "no job with id '" + id + "' (see `weft jobs` for the jobs this coordinator knows)")
          .asRuntimeException();
    }
    return job;
  }

  Collection<JobRun> all() {
    return jobs.values();
  }

  /** Newest first, at most {@code limit}, only in {@code states} unless that is empty. */
  List<Job> list(Set<JobState> states, int limit) {
    List<Job> out = new ArrayList<>();
    List<JobRun> all = new ArrayList<>(jobs.values());
    for (int i = all.size() - 1; i >= 0 && out.size() < limit; i--) {
      JobRun job = all.get(i);
      if (states.isEmpty() || states.contains(job.state())) {
        out.add(job.toProto());
      }
    }
    return out;
  }

  /** Every job's end passes here, whatever ended it. */
  void finished(JobRun job) {
    finishedOrder.addLast(job.id());
    pruneFinished();
    CompletableFuture<Job> waiter = waiters.remove(job.id());
    if (waiter != null) {
      // Completed here, on the conductor, to spare a thread hand-off; see Coordinator.run.
      waiter.complete(job.toProto());
    }
  }

  /**
   * Forgets a job that ended without ever being recorded (the journal refused it, and so was its
   * submitter): it is not kept among the finished.
   */
  void dropUnrecorded(JobRun job) {
    jobs.remove(job.id());
    CompletableFuture<Job> waiter = waiters.remove(job.id());
    if (waiter != null) {
      waiter.complete(job.toProto());
    }
  }

  /** Completes with the job's final state once it ends. */
  CompletableFuture<Job> whenFinished(String id) {
    JobRun job = find(id);
    if (job.isFinished()) {
      return CompletableFuture.completedFuture(job.toProto());
    }
    return waiters.computeIfAbsent(id, key -> new CompletableFuture<>());
  }

  /**
   * Forgets the oldest finished jobs beyond the retained count, here and in the journal: in batches
   * of a tenth of the count, so a stream of small jobs costs one journal record per batch rather
   * than one per job.
   */
  void pruneFinished() {
    if (finishedOrder.size() <= retainedFinished + retainedFinished / 10) {
      return;
    }
    List<String> forgotten = new ArrayList<>();
    while (finishedOrder.size() > retainedFinished) {
      String id = finishedOrder.pollFirst();
      jobs.remove(id);
      forgotten.add(id);
    }
    journal.forget(forgotten);
  }

  /** Forgets the jobs that finished before {@code cutoffMs}, here and in the journal. */
  void pruneFinishedBefore(long cutoffMs) {
    while (!finishedOrder.isEmpty()) {
      JobRun job = jobs.get(finishedOrder.peekFirst());
      if (job != null && job.finishedMs() >= cutoffMs) {
        break;
      }
      jobs.remove(finishedOrder.pollFirst());
    }
    journal.forgetFinishedBefore(cutoffMs);
  }
}
