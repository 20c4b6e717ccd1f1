package dev.weft.cli;

import dev.weft.v1.ExecParams;
import dev.weft.v1.Job;
import dev.weft.v1.TaskFailure;
import dev.weft.v1.TaskLogChunk;
import dev.weft.v1.TaskLogStream;
import dev.weft.v1.TaskLogsRequest;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * {@code weft submit exec --wait --tag}: prints what an exec job's tasks write while they run, each
 * line with the task's input and a TAB before it, as GNU parallel's {@code --tag} does; stdout
 * lines to stdout, stderr lines to stderr.
 *
 * <p>Each task's streams are read with TaskLogs calls that follow the attempt as it writes. At most
 * {@link #FOLLOWED_TASKS} tasks are followed at a time, taken in task order (the order the
 * coordinator starts them in), so a job of any size holds a bounded number of calls. A task that
 * has not started yet is asked about again after a pause that grows to {@link #LAST_RETRY}; a call
 * that breaks (its worker went away, this process was stopped longer than the coordinator waits for
 * a reader, the coordinator restarted) is made again from the offset reached, so nothing still kept
 * is lost. A task retried after its worker went away is followed into its next attempt; one whose
 * attempt failed on its own and ran again is printed once the job has ended.
 *
 * <p>One printer thread writes every line, so lines of different tasks never mix; the readers hand
 * it whole lines through a bounded queue, and a reader whose line does not fit waits, which paces
 * its call (the coordinator sends a reader only as much as it has taken).
 */
final class TaggedOutput implements AutoCloseable {
  /** Tasks whose logs are read at once (two calls each, stdout and stderr). */
  static final int FOLLOWED_TASKS = 16;

  static final Duration FIRST_RETRY = Duration.ofMillis(50);
  static final Duration LAST_RETRY = Duration.ofSeconds(1);

  /** Breaks tolerated per stream once the job has ended, before its error is reported. */
  private static final int RETRIES_AFTER_END = 3;

  /** Reports printed about streams that could not be read; more are only counted. */
  private static final int MAX_NOTES = 20;

  /** How many failures a job records (Job.failures); a full list may leave some out. */
  private static final int RECORDED_FAILURES = 100;

  private static final int QUEUED_PIECES = 1024;
  private static final Duration FOLLOW_DEADLINE = Duration.ofDays(30);

  /** Something to print: a tagged line or a note, on stdout or stderr. */
  private record Piece(boolean stderr, byte[] bytes) {}

  private static final Piece END = new Piece(false, new byte[0]);

  private final CoordinatorClient client;
  private final String jobId;
  private final ExecParams params;
  private final int tasks;
  private final PrintStream out;
  private final PrintStream err;
  private final BlockingQueue<Piece> queue = new ArrayBlockingQueue<>(QUEUED_PIECES);
  private final CountDownLatch jobEnded = new CountDownLatch(1);
  // Every call is made in a child of this, so closing ends them all.
  private final Context.CancellableContext calls = Context.ROOT.withCancellation();
  // The attempt whose stdout was printed, per task (0: none); each slot is written by the one
  // reader of its task, and read after the readers have been joined.
  private final int[] printedAttempts;
  private final AtomicInteger notes = new AtomicInteger();
  private final Thread printer;
  private volatile Throwable printFailure;
  private volatile boolean closed;
  // Replaced between the two rounds of reading; close() may come from the printer meanwhile.
  private final List<Thread> readers = new CopyOnWriteArrayList<>();

  private TaggedOutput(
      CoordinatorClient client,
      String jobId,
      ExecParams params,
      int tasks,
      PrintStream out,
      PrintStream err) {
    this.client = client;
    this.jobId = jobId;
    this.params = params;
    this.tasks = tasks;
    this.out = out;
    this.err = err;
    this.printedAttempts = new int[tasks];
    this.printer = Thread.ofPlatform().name("weft-tag-printer").daemon().unstarted(this::print);
  }

  /** Starts printing job {@code jobId}'s output ({@code tasks} tasks of {@code params}). */
  static TaggedOutput start(
      CoordinatorClient client,
      String jobId,
      ExecParams params,
      int tasks,
      PrintStream out,
      PrintStream err) {
    TaggedOutput output = new TaggedOutput(client, jobId, params, tasks, out, err);
    output.printer.start();
    AtomicInteger next = new AtomicInteger();
    output.startReaders(
        () -> {
          int task = next.getAndIncrement();
          return task < tasks ? task : -1;
        },
        false);
    return output;
  }

  /**
   * The job has ended as {@code finished}: waits until the rest of its output is printed (the
   * attempts still being read, the tasks not yet read, then those that ran again after an attempt
   * that failed on its own).
   */
  void finish(Job finished) throws InterruptedException {
    jobEnded.countDown();
    joinReaders();
    List<Integer> again = ranAgain(finished);
    if (!again.isEmpty()) {
      AtomicInteger next = new AtomicInteger();
      startReaders(() -> next.get() < again.size() ? again.get(next.getAndIncrement()) : -1, true);
      joinReaders();
    }
    int unread = notes.get() - MAX_NOTES;
    if (unread > 0) {
      note("and " + unread + " more streams could not be read");
    }
    // A close meanwhile stops the printer, which then takes nothing more from the queue; one stuck
    // writing to a stdout nobody reads is left to the JVM's exit (it is a daemon).
    while (!queue.offer(END, LAST_RETRY.toMillis(), TimeUnit.MILLISECONDS)) {
      checkOpen();
    }
    while (!printer.join(LAST_RETRY)) {
      checkOpen();
    }
    checkOpen();
  }

  /** Stops reading and printing, from any thread; what was not printed yet is dropped. */
  @Override
  public void close() {
    closed = true;
    calls.cancel(null);
    readers.forEach(Thread::interrupt);
    printer.interrupt();
  }

  /** Throws once printing failed or was stopped: the output is not all printed. */
  private void checkOpen() {
    Throwable failure = printFailure;
    if (failure != null) {
      throw new CliException(
          ExitCodes.SOFTWARE, "cannot print the tasks' output: " + failure.getMessage(), failure);
    }
    if (closed) {
      throw new CliException(
          ExitCodes.INTERRUPTED,
          "stopped printing the output of job "
              + jobId
              + ", which has ended; 'weft logs "
              + jobId
              + " --task N' reads what its tasks wrote");
    }
  }

  private void startReaders(IntSupplier tasks, boolean onlyNewer) {
    readers.clear();
    for (int i = 0; i < FOLLOWED_TASKS; i++) {
      readers.add(
          Thread.ofVirtual()
              .name("weft-tag-" + i)
              .start(
                  () -> {
                    try {
                      for (int task = tasks.getAsInt(); task >= 0; task = tasks.getAsInt()) {
                        readTask(task, onlyNewer);
                      }
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt(); // closing: the thread ends here
                    }
                  }));
    }
  }

  private void joinReaders() throws InterruptedException {
    for (Thread reader : readers) {
      reader.join();
    }
    checkOpen();
  }

  /**
   * Tasks whose printed attempt failed and that may have run again: those the job's failures name
   * at that attempt or later, or every task read when the failures list is full (it keeps the first
   * {@link #RECORDED_FAILURES}). None when no attempt started beyond those printed.
   */
  private List<Integer> ranAgain(Job finished) {
    long printed = 0;
    for (int attempt : printedAttempts) {
      printed += attempt;
    }
    List<Integer> again = new ArrayList<>();
    if (finished.getAttempts() <= printed) {
      return again;
    }
    boolean all = finished.getFailuresCount() >= RECORDED_FAILURES;
    boolean[] listed = new boolean[tasks];
    for (TaskFailure failure : finished.getFailuresList()) {
      int task = failure.getTask();
      if (task >= 0 && task < tasks && failure.getAttempt() >= printedAttempts[task]) {
        listed[task] = true;
      }
    }
    for (int task = 0; task < tasks; task++) {
      if (listed[task] || (all && printedAttempts[task] > 0)) {
        again.add(task);
      }
    }
    return again;
  }

  /** Prints one task's streams; with {@code onlyNewer}, only an attempt after the one printed. */
  private void readTask(int task, boolean onlyNewer) throws InterruptedException {
    String tag = params.getInputsCount() == 0 ? Integer.toString(task) : params.getInputs(task);
    int after = onlyNewer ? printedAttempts[task] : 0;
    // Stderr is read once stdout has found the task started: a task that has not started is asked
    // about once per pause, not twice.
    Thread[] stderr = new Thread[1];
    Runnable started =
        () ->
            stderr[0] =
                Thread.ofVirtual()
                    .name("weft-tag-stderr-" + task)
                    .start(
                        calls.wrap(
                            () -> {
                              try {
                                read(task, TaskLogStream.TASK_LOG_STDERR, tag, after, () -> {});
                              } catch (InterruptedException e) {
                                Thread.currentThread().interrupt(); // closing
                              }
                            }));
    try {
      int attempt = read(task, TaskLogStream.TASK_LOG_STDOUT, tag, after, started);
      if (attempt > 0) {
        printedAttempts[task] = attempt;
      }
    } finally {
      if (stderr[0] != null) {
        try {
          stderr[0].join();
        } catch (InterruptedException e) {
          stderr[0].interrupt();
          throw e;
        }
      }
    }
  }

  /**
   * Prints one stream of a task's latest attempt as it is written, until that attempt ends, and
   * returns the attempt (0 when none was printed). {@code started} runs when the first attempt is
   * found; an attempt numbered {@code after} or lower is not printed.
   */
  private int read(int task, TaskLogStream stream, String tag, int after, Runnable started)
      throws InterruptedException {
    boolean stderr = stream == TaskLogStream.TASK_LOG_STDERR;
    String name = stderr ? "stderr" : "stdout";
    TaggedLines lines = new TaggedLines(tag, line -> put(new Piece(stderr, line)));
    int attempt = 0;
    long next = 0; // the stream offset printed up to, in the attempt
    long pauseMs = FIRST_RETRY.toMillis();
    int retriesAfterEnd = 0;
    calls:
    while (true) {
      boolean ended = jobEnded.getCount() == 0; // before the call: it then sees the whole log
      Context.CancellableContext call = calls.withCancellation();
      Context previous = call.attach();
      try {
        Iterator<TaskLogChunk> chunks =
            client
                .stub(FOLLOW_DEADLINE)
                .taskLogs(
                    TaskLogsRequest.newBuilder()
                        .setJobId(jobId)
                        .setTask(task)
                        .setStream(stream)
                        .setFollow(true)
                        .setOffset(next)
                        .build());
        boolean first = true;
        while (chunks.hasNext()) {
          TaskLogChunk chunk = chunks.next();
          if (first) {
            first = false;
            if (chunk.getAttempt() <= after) {
              return 0;
            }
            if (chunk.getAttempt() != attempt) {
              boolean resumed = next > 0;
              if (attempt == 0) {
                started.run();
              } else {
                lines.finish(); // that attempt's worker went away: the task runs again
              }
              attempt = chunk.getAttempt();
              next = 0;
              if (resumed) {
                continue calls; // the offset asked for was the previous attempt's
              }
            }
          }
          long offset = chunk.getOffset();
          if (offset > next) {
            note(
                "task "
                    + task
                    + " "
                    + name
                    + ": "
                    + (offset - next)
                    + " bytes were no longer kept by the worker");
          }
          int skip = (int) Math.max(0, Math.min(next - offset, chunk.getData().size()));
          lines.add(chunk.getData().substring(skip));
          next = Math.max(next, offset + chunk.getData().size());
        }
        lines.finish();
        return attempt;
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (calls.isCancelled()) {
          return attempt; // closing
        }
        if (code == Status.Code.PERMISSION_DENIED
            || code == Status.Code.UNAUTHENTICATED
            || code == Status.Code.INVALID_ARGUMENT
            || code == Status.Code.UNIMPLEMENTED
            || (ended && !mayPass(code, ++retriesAfterEnd))) {
          lines.finish();
          // A task that never ran (its job was cancelled first) has nothing to print.
          if (!(ended && code == Status.Code.FAILED_PRECONDITION)) {
            report(task, name, e.getStatus());
          }
          return attempt;
        }
        // Not started yet, its worker not yet writing or gone, or this reader was too slow: the
        // job runs on, so ask again; the job's end ends the pause early.
        jobEnded.await(pauseMs, TimeUnit.MILLISECONDS);
        pauseMs = Math.min(pauseMs * 2, LAST_RETRY.toMillis());
      } finally {
        call.detach(previous);
        call.cancel(null);
      }
    }
  }

  /** After the job's end, a call that broke on the way (not on a missing log) is made again. */
  private static boolean mayPass(Status.Code code, int retries) {
    return retries <= RETRIES_AFTER_END
        && (code == Status.Code.RESOURCE_EXHAUSTED
            || code == Status.Code.ABORTED
            || code == Status.Code.UNAVAILABLE
            || code == Status.Code.DEADLINE_EXCEEDED);
  }

  private void report(int task, String stream, Status status) {
    if (notes.incrementAndGet() <= MAX_NOTES) {
      note("task " + task + " " + stream + ": " + status.getDescription());
    }
  }

  private void note(String text) {
    try {
      put(
          new Piece(
              true,
              ("weft submit: " + text + System.lineSeparator()).getBytes(StandardCharsets.UTF_8)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // closing: the note is dropped with the rest
    }
  }

  private void put(Piece piece) throws InterruptedException {
    queue.put(piece);
  }

  /** The printer thread: writes each piece, flushing whenever it has caught up. */
  private void print() {
    try {
      while (true) {
        Piece piece = queue.poll();
        if (piece == null) {
          flush();
          piece = queue.take();
        }
        if (piece == END) {
          flush();
          return;
        }
        (piece.stderr() ? err : out).write(piece.bytes(), 0, piece.bytes().length);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // closed: nothing more is printed
    } catch (RuntimeException | java.io.IOException e) {
      printFailure = e;
      close();
    }
  }

  private void flush() throws java.io.IOException {
    out.flush();
    err.flush();
    if (out.checkError() || err.checkError()) {
      throw new java.io.IOException("writing to stdout or stderr failed");
    }
  }
}
