package dev.weft.coordinator;

import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
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
 * job's end, the jobs by their submissions' request ids, and forgetting finished jobs past the
 * retention (here and in the journal). Conductor thread only.
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
  // By owner and request id, while the job is kept: a submission sent again after its answer was
  // lost (a cut connection, a takeover) gets the job the first one made.
  private final Map<String, Scheduler.Submission> byRequest = new HashMap<>();

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

  /** A new job, whose spec is durable once {@code durable} completes. */
  void add(JobRun job, CompletableFuture<Void> durable) {
    jobs.put(job.id(), job);
    index(job, durable);
  }

  private void index(JobRun job, CompletableFuture<Void> durable) {
    if (!job.spec().getRequestId().isEmpty()) {
      byRequest.put(requestKey(job.spec()), new Scheduler.Submission(job, durable, true));
    }
  }

  private void unindex(JobRun job) {
    if (job != null && !job.spec().getRequestId().isEmpty()) {
      byRequest.computeIfPresent(
          requestKey(job.spec()), (key, earlier) -> earlier.job() == job ? null : earlier);
    }
  }

  private static String requestKey(JobSpec spec) {
    return spec.getOwner() + '\n' + spec.getRequestId();
  }

  /**
   * The submission made earlier with this spec's request id by the same owner, while its job is
   * kept; null when there is none (or the spec has no request id). ALREADY_EXISTS when that job's
   * spec is another.
   */
  Scheduler.Submission submittedAs(JobSpec spec) {
    if (spec.getRequestId().isEmpty()) {
      return null;
    }
    Scheduler.Submission earlier = byRequest.get(requestKey(spec));
    if (earlier == null) {
      return null;
    }
    // A priority an admin changed since is not a different submission.
    if (!earlier.job().spec().toBuilder()
        .clearPriority()
        .build()
        .equals(spec.toBuilder().clearPriority().build())) {
      throw Status.ALREADY_EXISTS
          .withDescription(
              "request_id '"
                  + spec.getRequestId()
                  + "' was used for job "
                  + earlier.job().id()
                  + " with another spec; a request id names one submission: send a new one with"
                  + " a new spec")
          .asRuntimeException();
    }
    return earlier;
  }

  /**
   * Takes the jobs a journal kept across a restart; the finished ones queue for forgetting oldest
   * first, ahead of any that end from now on.
   */
  void addRestored(Collection<JobRun> restored) {
    List<JobRun> finishedBefore = new ArrayList<>();
    for (JobRun run : restored) {
      jobs.put(run.id(), run);
      index(run, CompletableFuture.completedFuture(null));
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
    unindex(job);
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
      unindex(jobs.remove(id));
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
      unindex(jobs.remove(finishedOrder.pollFirst()));
    }
    journal.forgetFinishedBefore(cutoffMs);
  }
}
