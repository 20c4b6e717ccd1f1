package dev.weft.worker;

import com.google.protobuf.ByteString;
import dev.weft.kinds.JobKind;
import dev.weft.kinds.JobKinds;
import dev.weft.kinds.TaskContext;
import dev.weft.kinds.TaskFailedException;
import dev.weft.v1.TaskAssignment;
import dev.weft.v1.TaskResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Runs tasks on a fixed number of slot threads. Tasks beyond the slots wait in a queue (prefetch).
 * Every accepted task produces exactly one result, delivered to the result sink: its output, its
 * failure, or that it was cancelled.
 */
final class TaskSlots {
  private static final System.Logger LOG = System.getLogger(TaskSlots.class.getName());

  private final JobKinds kinds;
  private final SlotThreads threads;
  private final Map<Long, RunningTask> tasks = new ConcurrentHashMap<>();
  private final Consumer<TaskResult> results;
  private final Set<Long> earlyCancels = Collections.synchronizedSet(new LinkedHashSet<>());
  private static final int MAX_EARLY_CANCELS = 4096;

  TaskSlots(int slots, JobKinds kinds, Consumer<TaskResult> results) {
    this.kinds = kinds;
    this.results = results;
    this.threads = new SlotThreads(slots);
  }

  void submit(TaskAssignment assignment) {
    RunningTask task = new RunningTask(assignment);
    tasks.put(assignment.getAttemptId(), task);
    if (earlyCancels.remove(assignment.getAttemptId())) {
      task.cancel();
    }
    threads.execute(task);
  }

  /** Cancels the given attempts; each still reports a (cancelled) result. */
  void cancel(List<Long> attemptIds) {
    for (long attemptId : attemptIds) {
      RunningTask task = tasks.get(attemptId);
      if (task != null) {
        task.cancel();
      } else {
        rememberEarlyCancel(attemptId);
      }
    }
  }

  /**
   * A cancel may overtake its assignment when the two travel different paths (the control stream
   * and a fast path); remember a bounded number so the assignment is cancelled when it lands.
   */
  private void rememberEarlyCancel(long attemptId) {
    synchronized (earlyCancels) {
      if (earlyCancels.size() >= MAX_EARLY_CANCELS) {
        Iterator<Long> oldest = earlyCancels.iterator();
        oldest.next();
        oldest.remove();
      }
      earlyCancels.add(attemptId);
    }
  }

  /** The attempts accepted and not yet finished. */
  List<Long> unfinished() {
    return new ArrayList<>(tasks.keySet());
  }

  /** Cancels everything and returns the attempts that had not finished. */
  List<Long> cancelAll() {
    List<Long> unfinished = new ArrayList<>(tasks.keySet());
    cancel(unfinished);
    return unfinished;
  }

  int busy() {
    return tasks.size();
  }

  void shutdown() {
    cancelAll();
    threads.shutdownNow();
  }

  boolean awaitTermination(long millis) throws InterruptedException {
    return threads.awaitTermination(millis);
  }

  /** One accepted attempt, from the queue through its run to its single result. */
  private final class RunningTask implements Runnable, TaskContext {
    private final TaskAssignment assignment;
    private final List<Runnable> onCancel = new ArrayList<>();
    private Thread runner;
    private boolean cancelled;
    private boolean finished;

    RunningTask(TaskAssignment assignment) {
      this.assignment = assignment;
    }

    @Override
    public void run() {
      synchronized (this) {
        if (cancelled) {
          finish(cancelledResult(0));
          return;
        }
        runner = Thread.currentThread();
      }
      long start = System.nanoTime();
      TaskResult result;
      try {
        result = execute(start);
      } finally {
        synchronized (this) {
          finished = true;
          runner = null;
        }
        // A cancel that raced with the end of the task must not hit the next task on this thread.
        Thread.interrupted();
      }
      finish(result);
    }

    private TaskResult execute(long start) {
      JobKind kind = kinds.find(assignment.getKind()).orElse(null);
      if (kind == null) {
        return TaskResult.newBuilder()
            .setAttemptId(assignment.getAttemptId())
            .setError(
                "this worker has no kind '"
                    + assignment.getKind()
                    + "'; it has "
                    + String.join(", ", kinds.names()))
            .build();
      }
      try {
        ByteString output = kind.run(assignment.getInput(), this);
        if (isCancelled()) {
          return cancelledResult(micros(start));
        }
        return TaskResult.newBuilder()
            .setAttemptId(assignment.getAttemptId())
            .setOk(true)
            .setOutput(output)
            .setDurationUs(micros(start))
            .build();
      } catch (InterruptedException e) {
        return cancelledResult(micros(start));
      } catch (TaskFailedException e) {
        if (isCancelled()) {
          return cancelledResult(micros(start));
        }
        return TaskResult.newBuilder()
            .setAttemptId(assignment.getAttemptId())
            .setError(e.getMessage())
            .setApplicationError(true)
            .setOutput(e.output())
            .setDurationUs(micros(start))
            .build();
      } catch (Exception e) {
        if (isCancelled()) {
          return cancelledResult(micros(start));
        }
        LOG.log(System.Logger.Level.WARNING, "task " + describe() + " failed", e);
        return TaskResult.newBuilder()
            .setAttemptId(assignment.getAttemptId())
            .setError(e.toString())
            .setDurationUs(micros(start))
            .build();
      }
    }

    private String describe() {
      return assignment.getJobId() + "/" + assignment.getTask() + "#" + assignment.getAttempt();
    }

    private TaskResult cancelledResult(long micros) {
      return TaskResult.newBuilder()
          .setAttemptId(assignment.getAttemptId())
          .setCancelled(true)
          .setError("cancelled")
          .setDurationUs(micros)
          .build();
    }

    private void finish(TaskResult result) {
      tasks.remove(assignment.getAttemptId());
      results.accept(result);
    }

    void cancel() {
      List<Runnable> actions;
      synchronized (this) {
        if (cancelled || finished) {
          return;
        }
        cancelled = true;
        actions = List.copyOf(onCancel);
        if (runner != null) {
          runner.interrupt();
        }
      }
      actions.forEach(TaskSlots::runCancelAction);
    }

    @Override
    public synchronized boolean isCancelled() {
      return cancelled;
    }

    @Override
    public void onCancel(Runnable action) {
      synchronized (this) {
        if (!cancelled) {
          onCancel.add(action);
          return;
        }
      }
      runCancelAction(action);
    }

    @Override
    public long graceMs() {
      return assignment.getGraceMs();
    }
  }

  private static void runCancelAction(Runnable action) {
    // One failing action must not keep the others (or the cancel itself) from running.
    try {
      action.run();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "a task's cancel action failed", e);
    }
  }

  private static long micros(long startNanos) {
    return (System.nanoTime() - startNanos) / 1_000;
  }
}
