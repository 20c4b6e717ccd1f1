package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.sqlite.SQLiteConfig;

/**
 * The journal in {@code DATA_DIR/journal.db}: SQLite in WAL mode, written by one thread that
 * commits whatever was queued since its last commit (group commit), at most every {@link
 * #GROUP_COMMIT_MS} ms. A commit that holds a new job is synced ({@code synchronous=FULL}) and
 * answers the waiting submitter; the others are not synced ({@code NORMAL}: they survive a killed
 * process, and a power cut costs at most a re-run of the tasks they recorded).
 *
 * <p>Finished jobs keep one row with their final state; the results of a job are dropped when it
 * finishes, so only unfinished jobs have any.
 */
final class SqliteJournal implements Journal {
  private static final System.Logger LOG = System.getLogger(SqliteJournal.class.getName());
  static final String FILE_NAME = "journal.db";
  static final String NATIVE_DIR_NAME = "native";
  private static final String SQLITE_TMPDIR_PROPERTY = "org.sqlite.tmpdir";
  static final long GROUP_COMMIT_MS = 5;
  // Queued result bytes beyond which the scheduler stops handing out tasks until we catch up.
  static final long MAX_BACKLOG_BYTES = 64L << 20;
  private static final long RECORD_OVERHEAD_BYTES = 64;
  private static final long SUBMIT_DEADLINE_MS = 10_000;
  private static final long RETRY_MS = 1_000;
  private static final int CLOSE_ATTEMPTS = 3;
  private static final long CLOSE_DEADLINE_MS = 30_000;

  /** Upper bounds of the commit-time buckets, in seconds; the last bucket is +Inf. */
  static final double[] COMMIT_BOUNDS_SECONDS = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
  };

  private final Path dir;
  private final DataDirLock dirLock;
  private final Connection db;
  private final JournalTables.Statements sql;
  private final List<SavedJob> saved;
  // Monotonic nanoseconds, for group commits, deadlines and commit times.
  private final LongSupplier nanoClock;

  private final Object lock = new Object();
  // Guarded by lock.
  private ArrayList<Record> pending = new ArrayList<>();
  private long pendingBytes;
  // Records taken from pending by the commit under way.
  private int committing;
  // Successful group commits, by how long they took.
  private final LatencyBuckets commits = new LatencyBuckets(COMMIT_BOUNDS_SECONDS);
  private boolean urgent;
  private boolean writerParked;
  private boolean closing;
  private Thread writer;
  private Runnable onCaughtUp = () -> {};
  private java.util.function.BiConsumer<String, String> onSetAside = (id, why) -> {};
  // Read by the scheduler on every dispatch, without our lock.
  private volatile boolean behind;
  // Submissions not yet synced, oldest first, for the deadline sweep.
  private final java.util.concurrent.ConcurrentLinkedQueue<Submit> unsynced =
      new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final java.util.concurrent.ScheduledExecutorService deadlines =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().name("weft-journal-deadlines").daemon(true).factory());
  // Writer thread only.
  private String synchronous = "NORMAL";
  // Jobs whose submission could not be written: what follows of them is not written either.
  private final java.util.Set<String> unrecorded = new java.util.HashSet<>();
  // Jobs a record of which could never be written (set aside): only their end is still tried.
  private final java.util.Set<String> setAside = new java.util.HashSet<>();

  private sealed interface Record {}

  private record Submit(
      String id,
      JobSpec spec,
      int tasks,
      long createdMs,
      CompletableFuture<Void> done,
      AtomicBoolean abandoned,
      long queuedNanos)
      implements Record {}

  private record Started(String id, long startedMs) implements Record {}

  private record Result(String id, int task, ByteString output, TaskFailure failure, String summary)
      implements Record {}

  private record Retry(String id, TaskFailure failure) implements Record {}

  private record Stopping(String id, JobState target, String reason) implements Record {}

  private record Reprioritized(String id, JobSpec spec) implements Record {}

  private record Finished(Job job) implements Record {}

  private record Forget(List<String> ids) implements Record {}

  private record ForgetBefore(long cutoffMs) implements Record {}

  private SqliteJournal(
      Path dir,
      DataDirLock dirLock,
      Connection db,
      JournalTables.Statements sql,
      List<SavedJob> saved,
      LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
    this.dir = dir;
    this.dirLock = dirLock;
    this.db = db;
    this.sql = sql;
    this.saved = saved;
  }

  /**
   * Locks {@code dir}, opens (or creates) its journal, forgets finished jobs beyond the retention
   * (older than {@code retention}, or beyond the newest {@code keepFinished}) and reads the rest.
   * Nothing is written until {@link #start}. Times come from the system's monotonic clock.
   */
  static SqliteJournal open(Path dir, Duration retention, int keepFinished)
      throws DataDirException {
    return open(dir, retention, keepFinished, System::nanoTime);
  }

  /**
   * As {@link #open(Path, Duration, int)}, with time from {@code nanoClock}: monotonic nanoseconds
   * that must advance, since the writer waits on it between group commits.
   */
  static SqliteJournal open(Path dir, Duration retention, int keepFinished, LongSupplier nanoClock)
      throws DataDirException {
    DataDirLock dirLock = DataDirLock.acquire(dir);
    Path file = dir.resolve(FILE_NAME);
    Connection db = null;
    try {
      useNativeDir(dir.resolve(NATIVE_DIR_NAME));
      SQLiteConfig config = new SQLiteConfig();
      config.setJournalMode(SQLiteConfig.JournalMode.WAL);
      config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
      // Only we write (the data dir is locked); someone reading with the sqlite3 tool may hold
      // the file for a moment.
      config.setBusyTimeout(5_000);
      // We never ask for generated keys; fetching them costs a regex match per statement.
      config.setGetGeneratedKeys(false);
      db = config.createConnection("jdbc:sqlite:" + file);
      JournalTables.createSchema(db, file);
      JournalTables.prune(db, System.currentTimeMillis() - retention.toMillis(), keepFinished);
      List<SavedJob> saved = JournalTables.load(db);
      return new SqliteJournal(
          dir, dirLock, db, new JournalTables.Statements(db), saved, nanoClock);
    } catch (SQLException e) {
      closeAfterFailure(db, dirLock, e);
      throw new DataDirException(
          "cannot open the journal "
              + file
              + " ("
              + e.getMessage()
              + "); move it aside to start afresh, or choose another --data-dir",
          e);
    } catch (DataDirException e) {
      closeAfterFailure(db, dirLock, e);
      throw e;
    }
  }

  /**
   * sqlite-jdbc copies its native library into a temporary directory and deletes the copy when the
   * JVM exits normally; every SIGKILLed coordinator would leave one (a megabyte) in /tmp. Unless
   * the user chose the directory ({@code -Dorg.sqlite.tmpdir}), the copy goes into the locked data
   * dir instead, where the next coordinator removes what a killed one left. The property is read
   * once, when the first journal of this JVM loads the library.
   */
  private static void useNativeDir(Path nativeDir) throws DataDirException {
    try {
      if (Files.isDirectory(nativeDir)) {
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(nativeDir)) {
          for (Path file : stale) {
            Files.deleteIfExists(file); // we hold the lock: no live coordinator uses it
          }
        }
      }
      Files.createDirectories(nativeDir);
    } catch (IOException e) {
      throw new DataDirException("cannot prepare " + nativeDir + ": " + e.getMessage(), e);
    }
    if (System.getProperty(SQLITE_TMPDIR_PROPERTY) == null) {
      System.setProperty(SQLITE_TMPDIR_PROPERTY, nativeDir.toString());
    }
  }

  private static void closeAfterFailure(Connection db, DataDirLock dirLock, Exception cause) {
    try {
      if (db != null) {
        db.close();
      }
    } catch (SQLException e) {
      cause.addSuppressed(e);
    }
    try {
      dirLock.close();
    } catch (IOException e) {
      cause.addSuppressed(e);
    }
  }

  /** The jobs read at open, in submission order. */
  List<SavedJob> saved() {
    return saved;
  }

  /**
   * Starts writing. {@code onCaughtUp} runs on the writer thread, holding none of our locks, when a
   * backlog that made {@link #isBehind} true has been written. {@code onSetAside} runs there too,
   * with a job id and the SQL error, when a record of that (already accepted) job could not be
   * written on its own while the journal commits others: the job must then end, failed.
   */
  void start(Runnable onCaughtUp, java.util.function.BiConsumer<String, String> onSetAside) {
    synchronized (lock) {
      this.onCaughtUp = onCaughtUp;
      this.onSetAside = onSetAside;
      writer = Thread.ofPlatform().name("weft-journal-writer").daemon(true).start(this::runWriter);
    }
    deadlines.scheduleAtFixedRate(this::expireSubmits, 1, 1, TimeUnit.SECONDS);
  }

  /**
   * Refuses the submissions not synced within {@link #SUBMIT_DEADLINE_MS} (a hung disk): their
   * submitters are answered, and the writer skips them. One sweep a second over the oldest, rather
   * than a timer per job.
   */
  private void expireSubmits() {
    long now = nanoClock.getAsLong();
    Submit oldest;
    while ((oldest = unsynced.peek()) != null) {
      if (oldest.done().isDone()) {
        unsynced.poll();
      } else if (now - oldest.queuedNanos() > TimeUnit.MILLISECONDS.toNanos(SUBMIT_DEADLINE_MS)) {
        unsynced.poll();
        // Were it written after all, the job's end (it is stopped) is written after it.
        oldest.abandoned().set(true);
        oldest
            .done()
            .completeExceptionally(
                new JournalException(
                    "the journal in "
                        + dir
                        + " did not commit within "
                        + SUBMIT_DEADLINE_MS
                        + " ms",
                    null));
      } else {
        return;
      }
    }
  }

  // ---- records ----

  @Override
  public CompletableFuture<Void> submitted(String id, JobSpec spec, int tasks, long createdMs) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Submit submit =
        new Submit(id, spec, tasks, createdMs, done, new AtomicBoolean(), nanoClock.getAsLong());
    synchronized (lock) {
      if (closing) {
        return CompletableFuture.failedFuture(
            new JournalException("the journal in " + dir + " is closed", null));
      }
      pending.add(submit);
      unsynced.add(submit);
      urgent = true;
      if (writerParked || pending.size() == 1) {
        lock.notifyAll();
      }
    }
    return done;
  }

  @Override
  public boolean isDurable() {
    return true;
  }

  @Override
  public void started(String id, long startedMs) {
    append(new Started(id, startedMs), RECORD_OVERHEAD_BYTES);
  }

  @Override
  public void succeeded(String id, int task, ByteString output) {
    append(new Result(id, task, output, null, null), RECORD_OVERHEAD_BYTES + output.size());
  }

  @Override
  public void failed(String id, int task, ByteString output, TaskFailure failure, String summary) {
    append(
        new Result(id, task, output, failure, summary),
        RECORD_OVERHEAD_BYTES + output.size() + failure.getSerializedSize() + summary.length());
  }

  @Override
  public void retrying(String id, TaskFailure failure) {
    append(new Retry(id, failure), RECORD_OVERHEAD_BYTES + failure.getSerializedSize());
  }

  @Override
  public void reprioritized(String id, JobSpec spec) {
    append(new Reprioritized(id, spec), RECORD_OVERHEAD_BYTES + spec.getSerializedSize());
  }

  @Override
  public void stopping(String id, JobState target, String reason) {
    append(new Stopping(id, target, reason), RECORD_OVERHEAD_BYTES + reason.length());
  }

  @Override
  public void finished(Job job) {
    append(new Finished(job), RECORD_OVERHEAD_BYTES + job.getSerializedSize());
  }

  @Override
  public void forget(List<String> ids) {
    append(new Forget(List.copyOf(ids)), RECORD_OVERHEAD_BYTES * ids.size());
  }

  @Override
  public void forgetFinishedBefore(long cutoffMs) {
    append(new ForgetBefore(cutoffMs), RECORD_OVERHEAD_BYTES);
  }

  @Override
  public boolean isBehind() {
    return behind;
  }

  @Override
  public java.util.Optional<Stats> stats() {
    synchronized (lock) {
      return java.util.Optional.of(new Stats(pending.size() + committing, commits.copy()));
    }
  }

  private void append(Record record, long bytes) {
    synchronized (lock) {
      if (closing && writer == null) {
        LOG.log(System.Logger.Level.DEBUG, "journal closed; dropped {0}", record);
        return;
      }
      pending.add(record);
      pendingBytes += bytes;
      if (pendingBytes > MAX_BACKLOG_BYTES) {
        behind = true;
      }
      if (writerParked) {
        lock.notifyAll();
      }
    }
  }

  // ---- the writer ----

  private void runWriter() {
    long lastCommitNanos = nanoClock.getAsLong() - TimeUnit.MILLISECONDS.toNanos(GROUP_COMMIT_MS);
    int failures = 0;
    while (true) {
      List<Record> batch;
      boolean last;
      synchronized (lock) {
        try {
          awaitBatch(lastCommitNanos);
        } catch (InterruptedException e) {
          // Nobody interrupts the writer but the JVM going down: write what we have and stop.
          closing = true;
          Thread.currentThread().interrupt();
        }
        if (pending.isEmpty() && closing) {
          return;
        }
        batch = pending;
        pending = new ArrayList<>();
        pendingBytes = 0;
        urgent = false;
        last = closing;
        committing = batch.size();
      }
      try {
        long began = nanoClock.getAsLong();
        write(batch);
        long took = nanoClock.getAsLong() - began;
        synchronized (lock) {
          commits.observe(took);
          committing = 0;
        }
        failures = 0;
      } catch (SQLException | RuntimeException e) {
        batch = isEnvironmental(e) ? batch : writeOneByOne(batch);
        if (batch.isEmpty()) {
          synchronized (lock) {
            committing = 0;
          }
          failures = 0;
          lastCommitNanos = nanoClock.getAsLong();
          caughtUp();
          continue;
        }
        failures++;
        batch = failedBatch(batch, e, failures);
        if (last && failures >= CLOSE_ATTEMPTS) {
          LOG.log(
              System.Logger.Level.ERROR,
              "journal: giving up on {0} records after {1} failed commits: {2}",
              batch.size(),
              failures,
              e.getMessage());
          batch = List.of();
        }
        requeueFront(batch);
        pauseAfterFailure();
      }
      lastCommitNanos = nanoClock.getAsLong();
      caughtUp();
    }
  }

  /** Waits, holding the lock, until there is something to write and its time has come. */
  private void awaitBatch(long lastCommitNanos) throws InterruptedException {
    while (!closing && !urgent) {
      if (pending.isEmpty()) {
        writerParked = true;
        try {
          lock.wait();
        } finally {
          writerParked = false;
        }
        continue;
      }
      // Records keep coming while tasks run: gather them for a while, one commit for all.
      long left =
          lastCommitNanos + TimeUnit.MILLISECONDS.toNanos(GROUP_COMMIT_MS) - nanoClock.getAsLong();
      if (left <= 0) {
        return;
      }
      TimeUnit.NANOSECONDS.timedWait(lock, left);
    }
  }

  /**
   * After {@code batch} failed to commit as one: each record on its own, so one that can never be
   * written (a constraint or encoding error of its row) does not hold back the others forever. When
   * some commit, or the journal proves it can commit (see {@link #canCommit}), the records that
   * failed alone are set aside; otherwise nothing could be written (a full disk, a lost file) and
   * the batch is returned whole, to be retried.
   */
  private List<Record> writeOneByOne(List<Record> batch) {
    List<Record> failed = new ArrayList<>();
    List<Exception> errors = new ArrayList<>();
    boolean anyCommitted = false;
    for (int i = 0; i < batch.size(); i++) {
      Record record = batch.get(i);
      try {
        write(List.of(record));
        anyCommitted = true;
      } catch (SQLException | RuntimeException e) {
        if (isEnvironmental(e)) {
          // The journal itself fails now: what is not committed is retried as a batch.
          List<Record> retry = new ArrayList<>(failed);
          retry.addAll(batch.subList(i, batch.size()));
          return retry;
        }
        failed.add(record);
        errors.add(e);
      }
    }
    if (failed.isEmpty()) {
      return List.of();
    }
    if (!anyCommitted && !canCommit()) {
      return failed;
    }
    for (int i = 0; i < failed.size(); i++) {
      setAside(failed.get(i), errors.get(i));
    }
    return List.of();
  }

  /**
   * Whether {@code e} says the journal cannot be written at all now (busy, locked, full, read-only,
   * an I/O error, ...) rather than that one of the rows written was refused (a constraint, a type
   * or size error): only the latter is worth retrying row by row.
   */
  private static boolean isEnvironmental(Exception e) {
    if (!(e instanceof org.sqlite.SQLiteException sqlite)) {
      return false;
    }
    return switch (sqlite.getResultCode().code & 0xff) {
      // BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB
      case 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 26 -> true;
      default -> false;
    };
  }

  /** Whether a commit that writes the database succeeds: a write of the schema version. */
  private boolean canCommit() {
    try {
      sql.begin();
      try (Statement s = db.createStatement()) {
        s.executeUpdate("PRAGMA user_version = " + JournalTables.SCHEMA_VERSION);
        sql.commit();
        return true;
      } catch (SQLException | RuntimeException e) {
        sql.rollback(e);
        return false;
      }
    } catch (SQLException e) {
      return false;
    }
  }

  /**
   * Gives up on a record that cannot be written: its job (accepted and running) is failed by the
   * coordinator, and nothing more of it is written but its end. A submission is refused instead, as
   * for any failed commit; a job's end that cannot be written takes its row with it, so that a
   * restart does not resume a job that ended.
   */
  private void setAside(Record record, Exception e) {
    String id =
        switch (record) {
          case Submit s -> s.id();
          case Started s -> s.id();
          case Result r -> r.id();
          case Retry r -> r.id();
          case Stopping s -> s.id();
          case Reprioritized r -> r.id();
          case Finished f -> f.job().getId();
          case Forget f -> null;
          case ForgetBefore f -> null;
        };
    LOG.log(
        System.Logger.Level.ERROR,
        "journal: set aside a {0} record{1} that cannot be written on its own: {2}",
        record.getClass().getSimpleName(),
        id == null ? "" : " of job " + id,
        e.getMessage());
    if (record instanceof Submit submit) {
      failedBatch(List.of(submit), e, 2);
      return;
    }
    if (id == null) {
      return;
    }
    if (record instanceof Finished) {
      setAside.remove(id);
      try {
        sql.begin();
        try {
          sql.deleteJob(id);
          sql.commit();
        } catch (SQLException | RuntimeException deleting) {
          sql.rollback(deleting);
          throw deleting;
        }
      } catch (SQLException | RuntimeException deleting) {
        LOG.log(
            System.Logger.Level.ERROR,
            "journal: cannot delete job {0} either: {1}",
            id,
            deleting.getMessage());
      }
      return;
    }
    if (setAside.add(id)) {
      onSetAside.accept(id, String.valueOf(e.getMessage()));
    }
  }

  /** Fails the waiting submitters (their jobs are refused) and returns the records to retry. */
  private List<Record> failedBatch(List<Record> batch, Exception e, int failures) {
    if (failures == 1 || failures % 60 == 0) {
      LOG.log(
          System.Logger.Level.WARNING,
          "journal: cannot commit to " + dir.resolve(FILE_NAME) + " (attempt " + failures + ")",
          e);
    }
    List<Record> retry = new ArrayList<>(batch.size());
    for (Record record : batch) {
      if (record instanceof Submit submit) {
        submit
            .done()
            .completeExceptionally(
                new JournalException(
                    "cannot write the journal in " + dir + ": " + e.getMessage(), e));
        unrecorded.add(submit.id());
      } else {
        retry.add(record);
      }
    }
    return retry;
  }

  /** Puts records that failed to commit back in front of those queued since. */
  private void requeueFront(List<Record> batch) {
    synchronized (lock) {
      committing = 0;
      ArrayList<Record> merged = new ArrayList<>(batch.size() + pending.size());
      merged.addAll(batch);
      merged.addAll(pending);
      pending = merged;
      for (Record record : batch) {
        if (record instanceof Result r) {
          pendingBytes += RECORD_OVERHEAD_BYTES + r.output().size();
        }
      }
      behind = behind || pendingBytes > MAX_BACKLOG_BYTES;
    }
  }

  /** Waits before retrying a failed commit (not when closing: then the retries are few). */
  private void pauseAfterFailure() {
    synchronized (lock) {
      long deadline = nanoClock.getAsLong() + TimeUnit.MILLISECONDS.toNanos(RETRY_MS);
      try {
        while (!closing) {
          long left = deadline - nanoClock.getAsLong();
          if (left <= 0) {
            break;
          }
          TimeUnit.NANOSECONDS.timedWait(lock, left);
        }
      } catch (InterruptedException e) {
        // As in runWriter: the JVM is going down; the next attempts are the last ones.
        closing = true;
        Thread.currentThread().interrupt();
      }
    }
  }

  private void caughtUp() {
    boolean resume;
    synchronized (lock) {
      resume = behind && pendingBytes <= MAX_BACKLOG_BYTES;
      if (resume) {
        behind = false;
      }
    }
    if (resume) {
      onCaughtUp.run();
    }
  }

  private void write(List<Record> batch) throws SQLException {
    boolean sync = false;
    for (Record record : batch) {
      if (record instanceof Submit submit && !submit.abandoned().get()) {
        sync = true;
        break;
      }
    }
    setSynchronous(sync ? "FULL" : "NORMAL");
    // A job that ends within this commit needs only its final row: what it recorded on the way
    // (its start, its results) would be replaced or deleted by that row in the same transaction.
    java.util.Set<String> endingHere = new java.util.HashSet<>();
    java.util.Set<String> newHere = new java.util.HashSet<>();
    for (Record record : batch) {
      if (record instanceof Finished f) {
        endingHere.add(f.job().getId());
      } else if (record instanceof Submit s && !s.abandoned().get()) {
        newHere.add(s.id());
      }
    }
    sql.begin();
    Map<String, ResultBatch> results = new LinkedHashMap<>();
    try {
      for (Record record : batch) {
        switch (record) {
          case Submit s -> {
            if (!s.abandoned().get()) {
              sql.insertJob(s.id(), s.spec().toByteArray(), s.tasks(), s.createdMs());
            } else {
              unrecorded.add(s.id());
            }
          }
          case Started s when unrecorded.contains(s.id()) -> {}
          case Result r when unrecorded.contains(r.id()) -> {}
          case Retry r when unrecorded.contains(r.id()) -> {}
          case Stopping s when unrecorded.contains(s.id()) -> {}
          case Reprioritized r when unrecorded.contains(r.id()) -> {}
          case Started s when setAside.contains(s.id()) -> {}
          case Result r when setAside.contains(r.id()) -> {}
          case Retry r when setAside.contains(r.id()) -> {}
          case Stopping s when setAside.contains(s.id()) -> {}
          case Reprioritized r when setAside.contains(r.id()) -> {}
          case Finished f when unrecorded.contains(f.job().getId()) ->
              unrecorded.remove(f.job().getId());
          case Started s when endingHere.contains(s.id()) -> {}
          case Result r when endingHere.contains(r.id()) -> {}
          case Retry r when endingHere.contains(r.id()) -> {}
          case Stopping s when endingHere.contains(s.id()) -> {}
          case Reprioritized r when endingHere.contains(r.id()) -> {}
          case Finished f when newHere.contains(f.job().getId()) -> {
            setAside.remove(f.job().getId());
            results.remove(f.job().getId());
            sql.markFinishedNew(f.job());
          }
          case Started s -> sql.markStarted(s.id(), s.startedMs());
          case Result r -> {
            ResultBatch into = results.computeIfAbsent(r.id(), id -> new ResultBatch());
            if (r.failure() == null) {
              into.add(r.task(), r.output());
            } else {
              into.addFailure(r.task(), r.output(), r.failure(), r.summary());
            }
          }
          case Retry r -> sql.insertRetry(r.id(), r.failure());
          case Stopping s -> sql.markStopping(s.id(), s.target().getNumber(), s.reason());
          case Reprioritized r -> sql.updateSpec(r.id(), r.spec());
          case Finished f -> {
            setAside.remove(f.job().getId());
            results.remove(f.job().getId());
            sql.markFinished(f.job());
          }
          case Forget f -> {
            for (String id : f.ids()) {
              results.remove(id);
              sql.deleteJob(id);
            }
          }
          case ForgetBefore f -> sql.deleteFinishedBefore(f.cutoffMs());
        }
      }
      for (Map.Entry<String, ResultBatch> entry : results.entrySet()) {
        sql.insertResults(entry.getKey(), entry.getValue().toByteArray());
      }
      sql.commit();
    } catch (SQLException | RuntimeException e) {
      sql.rollback(e);
      throw e;
    }
    for (Record record : batch) {
      if (record instanceof Submit submit) {
        submit.done().complete(null);
      }
    }
  }

  private void setSynchronous(String mode) throws SQLException {
    if (!mode.equals(synchronous)) {
      try (Statement s = db.createStatement()) {
        s.executeUpdate("PRAGMA synchronous = " + mode);
      }
      synchronous = mode;
    }
  }

  @Override
  public void close() {
    Thread running;
    synchronized (lock) {
      if (closing && writer == null) {
        return;
      }
      closing = true;
      running = writer;
      writer = null;
      lock.notifyAll();
    }
    try {
      if (running != null) {
        running.join(CLOSE_DEADLINE_MS);
        if (running.isAlive()) {
          LOG.log(
              System.Logger.Level.ERROR,
              "journal: the writer did not finish within {0} ms; closing anyway",
              CLOSE_DEADLINE_MS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      closeResources();
    }
  }

  private void closeResources() {
    deadlines.shutdownNow();
    try {
      sql.close();
      db.close();
    } catch (SQLException e) {
      LOG.log(System.Logger.Level.WARNING, "journal: closing " + dir.resolve(FILE_NAME), e);
    }
    try {
      dirLock.close();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot release the lock on " + dir, e);
    }
  }
}
