package dev.weft.client;

import com.google.protobuf.util.Durations;
import dev.weft.v1.Dependency;
import dev.weft.v1.ExitCodeRange;
import dev.weft.v1.JobSpec;
import dev.weft.v1.LabelRequirement;
import dev.weft.v1.RetryPolicy;
import java.time.Duration;
import java.util.Objects;

/**
 * The options every job has, whatever its kind: how it is split, retried, limited, scheduled and
 * placed. Start one with a {@link Jobs} factory, which sets the kind; {@link #spec()} gives the
 * JobSpec to submit. Options left alone keep the coordinator's defaults. Not thread-safe.
 *
 * @param <B> the kind's own builder, so that its options chain after these
 */
public abstract sealed class JobBuilder<B extends JobBuilder<B>>
    permits Jobs.Simple, Jobs.Exec, Jobs.Hash, Jobs.Plugin {
  final JobSpec.Builder spec = JobSpec.newBuilder();

  JobBuilder() {}

  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  /** A free-form label shown in listings. */
  public B name(String name) {
    spec.setName(Objects.requireNonNull(name, "name"));
    return self();
  }

  /** How many tasks to split the job into (0: the kind's default); excludes {@link #taskSize}. */
  public B tasks(int tasks) {
    spec.setTasks(tasks);
    return self();
  }

  /** Elements per task (numbers for sum and primes, samples for pi, bytes for hash). */
  public B taskSize(long size) {
    spec.setTaskSize(size);
    return self();
  }

  /** Attempts per task before the job fails (0: the coordinator's default, 3). */
  public B maxAttempts(int attempts) {
    spec.setMaxAttempts(attempts);
    return self();
  }

  /** Also retries tasks that fail on their own terms (a non-zero exit), not only lost ones. */
  public B retryOnError() {
    spec.setRetryOnError(true);
    return self();
  }

  /**
   * Waits {@code delay} before the first retry, each further one {@code backoff} times longer, at
   * most {@code maxDelay} (null: no bound).
   */
  public B retryDelay(Duration delay, double backoff, Duration maxDelay) {
    RetryPolicy.Builder retry = spec.getRetryBuilder().setDelay(proto(delay)).setBackoff(backoff);
    if (maxDelay != null) {
      retry.setMaxDelay(proto(maxDelay));
    }
    return self();
  }

  /** Exec exit codes {@code from..to} fail the task at once, whatever attempts remain. */
  public B noRetryExitCodes(int from, int to) {
    spec.getRetryBuilder().addNoRetryExitCodes(ExitCodeRange.newBuilder().setFrom(from).setTo(to));
    return self();
  }

  /** A wall-clock limit for the whole job. */
  public B timeout(Duration timeout) {
    spec.setTimeout(proto(timeout));
    return self();
  }

  /** A task attempt running longer is stopped as by a cancel and counts as a failed attempt. */
  public B taskTimeout(Duration timeout) {
    spec.setTaskTimeout(proto(timeout));
    return self();
  }

  /** How long a cancelled task gets between SIGTERM and SIGKILL (default 10 s). */
  public B grace(Duration grace) {
    spec.setGrace(proto(grace));
    return self();
  }

  /** The scheduling class: a higher one is served before any lower one (default 0). */
  public B priority(int priority) {
    spec.setPriority(priority);
    return self();
  }

  /** The job's share among its owner's jobs of its class (default 1). */
  public B weight(double weight) {
    spec.setWeight(weight);
    return self();
  }

  /** Runs only on these workers (ids as {@link WeftClient#workers()} gives them). */
  public B workers(String... workerIds) {
    for (String id : workerIds) {
      spec.addWorkers(id);
    }
    return self();
  }

  /** Runs only on workers carrying label {@code key=value}. */
  public B label(String key, String value) {
    spec.addRequires(LabelRequirement.newBuilder().setKey(key).setValue(value));
    return self();
  }

  /** Runs only on workers that do not carry label {@code key=value}. */
  public B labelNot(String key, String value) {
    spec.addRequires(LabelRequirement.newBuilder().setKey(key).setValue(value).setNotEqual(true));
    return self();
  }

  /** What each task needs of its worker: thousandths of a CPU. */
  public B cpuMillis(long millis) {
    spec.getResourcesBuilder().setCpuMillis(millis);
    return self();
  }

  /** What each task needs of its worker: bytes of memory. */
  public B memoryBytes(long bytes) {
    spec.getResourcesBuilder().setMemBytes(bytes);
    return self();
  }

  /** What each task needs of its worker: GPUs. */
  public B gpus(int gpus) {
    spec.getResourcesBuilder().setGpus(gpus);
    return self();
  }

  /** What each task needs of its worker: {@code amount} of a resource the operator named. */
  public B resource(String name, long amount) {
    spec.getResourcesBuilder().putCustom(name, amount);
    return self();
  }

  /** Refuses the job at submission when no attached worker could ever run its tasks. */
  public B strict() {
    spec.setStrict(true);
    return self();
  }

  /** Waits for these jobs to succeed before any task runs; fails at once if one does not. */
  public B after(String... jobIds) {
    for (String id : jobIds) {
      spec.addAfter(Dependency.newBuilder().setJobId(id));
    }
    return self();
  }

  /** Waits for these jobs to end, however they end, before any task runs. */
  public B afterAny(String... jobIds) {
    for (String id : jobIds) {
      spec.addAfter(Dependency.newBuilder().setJobId(id).setAny(true));
    }
    return self();
  }

  /** The spec as built so far; the builder stays usable. */
  public JobSpec spec() {
    return spec.build();
  }

  static com.google.protobuf.Duration proto(Duration duration) {
    return Durations.fromNanos(Objects.requireNonNull(duration, "duration").toNanos());
  }
}
