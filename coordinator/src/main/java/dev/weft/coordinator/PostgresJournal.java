package dev.weft.coordinator;

import com.google.protobuf.ByteString;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;

/**
 * The journal in a PostgreSQL database (schema {@value #SCHEMA}), with the semantics of {@link
 * SqliteJournal}: one writer thread commits whatever was queued since its last commit (group
 * commit); a commit that holds a new job is synchronous and answers the waiting submitter, the
 * others use {@code synchronous_commit = off} (they survive a killed coordinator; a crash of the
 * database server costs at most a re-run of the tasks they recorded).
 *
 * <p>Every write goes through {@link #write} in one transaction, so a later check of the writer's
 * leadership (an epoch compared in the same transaction) has one place to go.
 *
 * <p>A database that cannot be reached: submissions are refused after {@link #SUBMIT_DEADLINE_MS}
 * and the other records stay queued (the scheduler holds dispatch once they pass the backlog
 * bound), retried with a growing pause and logged, so nothing acknowledged is lost.
 */
final class PostgresJournal implements Journal {
  private static final System.Logger LOG = System.getLogger(PostgresJournal.class.getName());
  static final String SCHEMA = "weft";
  static final String MIGRATIONS = "classpath:db/postgresql";
  static final long GROUP_COMMIT_MS = SqliteJournal.GROUP_COMMIT_MS;
  static final long MAX_BACKLOG_BYTES = SqliteJournal.MAX_BACKLOG_BYTES;
  private static final long RECORD_OVERHEAD_BYTES = 64;
  private static final long SUBMIT_DEADLINE_MS = 10_000;
  private static final long RETRY_MIN_MS = 100;
  private static final long RETRY_MAX_MS = 5_000;
  private static final int CLOSE_ATTEMPTS = 3;
  private static final long CLOSE_DEADLINE_MS = 30_000;
  // How long a commit may wait for a connection, and a statement for the server's answer, before
  // the database counts as gone (the writer then retries).
  private static final long CONNECTION_TIMEOUT_MS = 5_000;
  private static final int SOCKET_TIMEOUT_S = 30;
  private static final int CONNECT_TIMEOUT_S = 10;
  // A commit that waits this long for a lock (someone else's open transaction on our tables) fails
  // and is retried, so that a submission is refused before its deadline rather than hanging.
  private static final long LOCK_TIMEOUT_MS = 3_000;

  private final PostgresTarget target;
  private final DataDirLock dirLock;
  private final HikariDataSource pool;
  private final List<SavedJob> saved;
  private final LongSupplier nanoClock;
  // The leader's epoch every write is conditional on (see LeaderElection).
  private final long epoch;

  private final Object lock = new Object();
  // Guarded by lock.
  private ArrayList<Record> pending = new ArrayList<>();
  // Records queued or being committed, and how long commits took: for /metrics.
  private int committing;
  private final LatencyBuckets commits = new LatencyBuckets(SqliteJournal.COMMIT_BOUNDS_SECONDS);
  // Set once another epoch leads: nothing is written any more.
  private boolean fenced;
  private Runnable onFenced = () -> {};
  private long pendingBytes;
  private boolean urgent;
  private boolean writerParked;
  private boolean closing;
  private Thread writer;
  private Runnable onCaughtUp = () -> {};
  private BiConsumer<String, String> onSetAside = (id, why) -> {};
  // Read by the scheduler on every dispatch, without our lock.
  private volatile boolean behind;
  // Submissions not yet committed, oldest first, for the deadline sweep.
  private final ConcurrentLinkedQueue<Submit> unsynced = new ConcurrentLinkedQueue<>();
  private final ScheduledExecutorService deadlines =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().name("weft-journal-deadlines").daemon(true).factory());
  // Writer thread only: jobs whose submission could not be written (nothing more of them is), and
  // jobs a record of which could never be written (only their end is still tried).
  private final Set<String> unrecorded = new HashSet<>();
  private final Set<String> setAside = new HashSet<>();

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

  private PostgresJournal(
      PostgresTarget target,
      DataDirLock dirLock,
      HikariDataSource pool,
      List<SavedJob> saved,
      long epoch,
      LongSupplier nanoClock) {
    this.epoch = epoch;
    this.target = target;
    this.dirLock = dirLock;
    this.pool = pool;
    this.saved = saved;
    this.nanoClock = nanoClock;
  }

  /**
   * Locks {@code dataDir} (it keeps the coordinator's keys and tokens; null: no data dir), connects
   * to the database, brings its schema up to date, forgets finished jobs beyond the retention
   * (finished before {@code nowMs - retention}, or beyond the newest {@code keepFinished}) and
   * reads the rest. Nothing is written until {@link #start}. Every write is made on condition that
   * {@code epoch} still leads (see {@link LeaderElection}).
   */
  static PostgresJournal open(
      PostgresTarget target,
      String password,
      Path dataDir,
      Duration retention,
      int keepFinished,
      long nowMs,
      long epoch,
      long leaseMs,
      LongSupplier nanoClock)
      throws DataDirException, JournalUnavailableException {
    DataDirLock dirLock = dataDir == null ? null : DataDirLock.acquire(dataDir);
    HikariDataSource pool = null;
    try {
      pool = new HikariDataSource(poolConfig(target, password, leaseMs));
      migrate(target, pool);
      List<SavedJob> saved;
      try (Connection db = pool.getConnection()) {
        db.setAutoCommit(false);
        try {
          checkEpoch(db, epoch);
          PostgresTables.prune(db, nowMs - retention.toMillis(), keepFinished);
          saved = PostgresTables.load(db);
          db.commit();
        } catch (SQLException | RuntimeException e) {
          rollback(db, e);
          throw e;
        }
      }
      return new PostgresJournal(target, dirLock, pool, saved, epoch, nanoClock);
    } catch (JournalUnavailableException e) {
      closeAfterFailure(pool, dirLock, e);
      throw e;
    } catch (FencedException e) {
      closeAfterFailure(pool, dirLock, e);
      throw new JournalUnavailableException(
          "cannot open the journal at " + target + ": " + e.getMessage(), e);
    } catch (SQLException | RuntimeException e) {
      closeAfterFailure(pool, dirLock, e);
      throw new JournalUnavailableException(
          "cannot open the journal at "
              + target
              + " ("
              + rootMessage(e)
              + "); check that the database runs and takes this user and password",
          e);
    }
  }

  private static HikariConfig poolConfig(PostgresTarget target, String password, long leaseMs) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("weft-journal");
    config.setJdbcUrl(target.jdbcUrl());
    config.setUsername(target.user());
    if (password != null) {
      config.setPassword(password);
    }
    config.setSchema(SCHEMA);
    // The writer uses one connection at a time; a second serves the start and a retry while the
    // first is being replaced.
    config.setMaximumPoolSize(2);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(CONNECTION_TIMEOUT_MS);
    config.setAutoCommit(true);
    config.addDataSourceProperty("socketTimeout", SOCKET_TIMEOUT_S);
    config.addDataSourceProperty("connectTimeout", CONNECT_TIMEOUT_S);
    config.addDataSourceProperty("tcpKeepAlive", true);
    config.addDataSourceProperty("ApplicationName", "weft coordinator");
    // A leader cut off within a transaction must not hold the leader row (and with it a
    // standby's takeover) for longer than its lease.
    config.addDataSourceProperty(
        "options",
        "-c lock_timeout="
            + LOCK_TIMEOUT_MS
            + " -c idle_in_transaction_session_timeout="
            + leaseMs
            + " -c tcp_user_timeout="
            + leaseMs);
    return config;
  }

  /**
   * Applies the migrations in {@value #MIGRATIONS}. A database whose schema was brought further by
   * a newer weft is refused rather than written with an older idea of its tables.
   */
  private static void migrate(PostgresTarget target, HikariDataSource pool)
      throws JournalUnavailableException {
    migrate(target, Flyway.configure(PostgresJournal.class.getClassLoader()).dataSource(pool));
  }

  /** As {@link #migrate(PostgresTarget, HikariDataSource)}, on a connection of its own. */
  static void migrate(PostgresTarget target, String password) throws JournalUnavailableException {
    migrate(
        target,
        Flyway.configure(PostgresJournal.class.getClassLoader())
            .dataSource(target.jdbcUrl(), target.user(), password));
  }

  private static void migrate(
      PostgresTarget target, org.flywaydb.core.api.configuration.FluentConfiguration flyway)
      throws JournalUnavailableException {
    try {
      flyway
          .schemas(SCHEMA)
          .locations(MIGRATIONS)
          .ignoreMigrationPatterns(new String[0])
          .load()
          .migrate();
    } catch (FlywayException e) {
      throw new JournalUnavailableException(
          "cannot bring the journal's schema at "
              + target
              + " up to date ("
              + rootMessage(e)
              + "); if a newer weft wrote it, run that weft",
          e);
    }
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return String.valueOf(root.getMessage());
  }

  private static void closeAfterFailure(HikariDataSource pool, DataDirLock dirLock, Exception e) {
    if (pool != null) {
      pool.close();
    }
    if (dirLock != null) {
      try {
        dirLock.close();
      } catch (IOException closing) {
        e.addSuppressed(closing);
      }
    }
  }

  private static void rollback(Connection db, Exception cause) {
    try {
      db.rollback();
    } catch (SQLException e) {
      cause.addSuppressed(e); // the connection is gone; the pool drops it
    }
  }

  /** The jobs read at open, in submission order. */
  List<SavedJob> saved() {
    return saved;
  }

  /** Starts writing; as {@link SqliteJournal#start}. */
  void start(Runnable onCaughtUp, BiConsumer<String, String> onSetAside) {
    synchronized (lock) {
      this.onCaughtUp = onCaughtUp;
      this.onSetAside = onSetAside;
      writer = Thread.ofPlatform().name("weft-journal-writer").daemon(true).start(this::runWriter);
    }
    deadlines.scheduleAtFixedRate(this::expireSubmits, 1, 1, TimeUnit.SECONDS);
  }

  /** Refuses the submissions not committed within {@link #SUBMIT_DEADLINE_MS}. */
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
                    "the journal at "
                        + target
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
            new JournalException("the journal at " + target + " is closed", null));
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
    append(new Result(id, task, output, failure, summary), RECORD_OVERHEAD_BYTES + output.size());
  }

  @Override
  public void retrying(String id, TaskFailure failure) {
    append(new Retry(id, failure), RECORD_OVERHEAD_BYTES + failure.getSerializedSize());
  }

  @Override
  public void stopping(String id, JobState target, String reason) {
    append(new Stopping(id, target, reason), RECORD_OVERHEAD_BYTES);
  }

  @Override
  public void reprioritized(String id, JobSpec spec) {
    append(new Reprioritized(id, spec), RECORD_OVERHEAD_BYTES + spec.getSerializedSize());
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

  /**
   * Runs {@code action} (once, on the writer's thread) when a write found that another coordinator
   * leads: this journal then writes nothing more.
   */
  void onFenced(Runnable action) {
    synchronized (lock) {
      onFenced = action;
    }
  }

  private void append(Record record, long bytes) {
    synchronized (lock) {
      if ((closing && writer == null) || fenced) {
        if (record instanceof Submit submit) {
          submit.done().completeExceptionally(notLeading());
        }
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
        if ((pending.isEmpty() && closing) || fenced) {
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
        if (failures > 0) {
          LOG.log(
              System.Logger.Level.INFO,
              "journal: committing to {0} again after {1} failed attempts",
              target,
              failures);
        }
        failures = 0;
      } catch (FencedException e) {
        fence(batch, e);
        return;
      } catch (SQLException | RuntimeException e) {
        batch = isEnvironmental(e) ? batch : writeOneByOne(batch);
        synchronized (lock) {
          committing = 0;
        }
        if (batch.isEmpty()) {
          failures = 0;
          lastCommitNanos = nanoClock.getAsLong();
          caughtUp();
          continue;
        }
        failures++;
        long pauseMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS << Math.min(failures - 1, 16));
        batch = failedBatch(batch, e, failures, pauseMs);
        if (last && failures >= CLOSE_ATTEMPTS) {
          LOG.log(
              System.Logger.Level.ERROR,
              "journal: giving up on {0} records after {1} failed commits to {2}: {3}",
              batch.size(),
              failures,
              target,
              rootMessage(e));
          batch = List.of();
        }
        requeueFront(batch);
        pauseAfterFailure(pauseMs);
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
   * written (a constraint or a trigger refusing its row) does not hold back the others forever; as
   * in {@link SqliteJournal}. Returns what is to be retried.
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
        if (isEnvironmental(e) || e instanceof FencedException) {
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
   * Whether {@code e} says the database cannot be written now (unreachable, shutting down, out of
   * resources, read-only, a lock or serialization conflict) rather than that a row was refused (a
   * data, constraint or raised error): only the latter is worth retrying row by row. By SQLSTATE
   * class; an error without one counts as the database's.
   */
  static boolean isEnvironmental(Exception e) {
    if (e instanceof SQLTransientException
        || e instanceof SQLRecoverableException
        || e instanceof SQLNonTransientConnectionException) {
      return true;
    }
    if (!(e instanceof SQLException sql)) {
      return false;
    }
    String state = sql.getSQLState();
    if (state == null || state.length() < 2) {
      return true;
    }
    return switch (state.substring(0, 2)) {
      // connection, read-only transaction, rollback (serialization, deadlock), resources,
      // lock not available, operator intervention, system error, internal error
      case "08", "25", "40", "53", "55", "57", "58", "XX" -> true;
      default -> false;
    };
  }

  /** Whether the database takes writes now: reachable, and neither a standby nor read-only. */
  private boolean canCommit() {
    try (Connection db = pool.getConnection();
        Statement s = db.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")) {
      return rs.next() && !rs.getBoolean(1) && "off".equals(rs.getString(2));
    } catch (SQLException e) {
      return false;
    }
  }

  /** Gives up on a record that cannot be written; as {@link SqliteJournal}'s setAside. */
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
      failedBatch(List.of(submit), e, 2, 0);
      return;
    }
    if (id == null) {
      return;
    }
    if (record instanceof Finished) {
      // A job's end that cannot be written takes its row with it: a restart must not resume it.
      setAside.remove(id);
      try (Connection db = pool.getConnection()) {
        db.setAutoCommit(false);
        try (PostgresTables.Statements sql = new PostgresTables.Statements(db)) {
          sql.deleteJob(id);
          db.commit();
        } catch (SQLException | RuntimeException deleting) {
          rollback(db, deleting);
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
  private List<Record> failedBatch(List<Record> batch, Exception e, int failures, long pauseMs) {
    if (failures == 1 || failures % 12 == 0) {
      LOG.log(
          System.Logger.Level.WARNING,
          "journal: cannot commit to "
              + target
              + " (attempt "
              + failures
              + ", next in "
              + pauseMs
              + " ms): "
              + rootMessage(e),
          e);
    }
    List<Record> retry = new ArrayList<>(batch.size());
    for (Record record : batch) {
      if (record instanceof Submit submit) {
        submit
            .done()
            .completeExceptionally(
                new JournalException(
                    "cannot write the journal at " + target + ": " + rootMessage(e), e));
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
  private void pauseAfterFailure(long pauseMs) {
    synchronized (lock) {
      long deadline = nanoClock.getAsLong() + TimeUnit.MILLISECONDS.toNanos(pauseMs);
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

  /**
   * Commits {@code batch} in one transaction, and only then answers its submitters. Every write of
   * the journal passes here.
   */
  private void write(List<Record> batch) throws SQLException {
    boolean sync = false;
    // A job that ends within this commit needs only its final row (as in SqliteJournal.write).
    Set<String> endingHere = new HashSet<>();
    Set<String> newHere = new HashSet<>();
    for (Record record : batch) {
      if (record instanceof Finished f) {
        endingHere.add(f.job().getId());
      } else if (record instanceof Submit s && !s.abandoned().get()) {
        newHere.add(s.id());
        sync = true;
      }
    }
    try (Connection db = pool.getConnection()) {
      db.setAutoCommit(false);
      try (PostgresTables.Statements sql = new PostgresTables.Statements(db)) {
        checkEpoch(db, epoch);
        if (!sync) {
          try (Statement s = db.createStatement()) {
            s.execute("SET LOCAL synchronous_commit = off");
          }
        }
        Map<String, ResultBatch> results = new LinkedHashMap<>();
        for (Record record : batch) {
          writeOne(sql, record, endingHere, newHere, results);
        }
        for (Map.Entry<String, ResultBatch> entry : results.entrySet()) {
          sql.insertResults(entry.getKey(), entry.getValue().toByteArray());
        }
        db.commit();
      } catch (SQLException | RuntimeException e) {
        rollback(db, e);
        throw e;
      }
    }
    for (Record record : batch) {
      if (record instanceof Submit submit) {
        submit.done().complete(null);
      }
    }
  }

  private void writeOne(
      PostgresTables.Statements sql,
      Record record,
      Set<String> endingHere,
      Set<String> newHere,
      Map<String, ResultBatch> results)
      throws SQLException {
    String job = jobOf(record);
    if (job != null
        && !(record instanceof Submit)
        && !(record instanceof Finished)
        && (unrecorded.contains(job) || setAside.contains(job) || endingHere.contains(job))) {
      return; // not recorded, set aside, or replaced by its end in this very commit
    }
    switch (record) {
      case Submit s -> {
        if (!s.abandoned().get()) {
          sql.insertJob(s.id(), s.spec().toByteArray(), s.tasks(), s.createdMs());
        } else {
          unrecorded.add(s.id());
        }
      }
      case Finished f when unrecorded.contains(f.job().getId()) ->
          unrecorded.remove(f.job().getId());
      case Finished f -> {
        setAside.remove(f.job().getId());
        results.remove(f.job().getId());
        sql.markFinished(f.job(), newHere.contains(f.job().getId()));
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
      case Forget f -> {
        for (String id : f.ids()) {
          results.remove(id);
          sql.deleteJob(id);
        }
      }
      case ForgetBefore f -> sql.deleteFinishedBefore(f.cutoffMs());
    }
  }

  /**
   * Holds the leader row (a takeover's raise waits for this transaction) and fails when the epoch
   * is no longer {@code epoch}.
   */
  private static void checkEpoch(Connection db, long epoch) throws SQLException {
    try (Statement s = db.createStatement();
        ResultSet rs = s.executeQuery("SELECT epoch FROM leader WHERE id = 1 FOR SHARE")) {
      long now = rs.next() ? rs.getLong(1) : -1;
      if (now != epoch) {
        throw new FencedException(
            "another coordinator leads this journal now (epoch " + now + ", ours " + epoch + ")");
      }
    }
  }

  /** A write refused because another coordinator leads: no retry can make it right. */
  static final class FencedException extends SQLException {
    FencedException(String message) {
      super(message, "WEFT1");
    }
  }

  private static JournalException notLeading() {
    return new JournalException(
        "this coordinator no longer leads the journal; submit again to the leader", null);
  }

  /** After a fenced write: drops everything queued, refuses what comes, and tells the owner. */
  private void fence(List<Record> batch, FencedException e) {
    List<Record> dropped = new ArrayList<>(batch);
    Runnable action;
    synchronized (lock) {
      fenced = true;
      dropped.addAll(pending);
      pending = new ArrayList<>();
      pendingBytes = 0;
      committing = 0;
      action = onFenced;
    }
    for (Record record : dropped) {
      if (record instanceof Submit submit) {
        submit.done().completeExceptionally(notLeading());
      }
    }
    LOG.log(
        System.Logger.Level.ERROR,
        "journal: {0}; dropped {1} records not yet written (the leader resumes from the journal)",
        e.getMessage(),
        dropped.size());
    action.run();
  }

  private static String jobOf(Record record) {
    return switch (record) {
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
  }

  /**
   * Stops without writing what is queued, as another coordinator leads (or may lead) the journal: a
   * writer blocked on a database that does not answer is cut off by closing its connections.
   */
  @Override
  public void abandon() {
    List<Record> dropped;
    synchronized (lock) {
      fenced = true;
      closing = true;
      writer = null;
      dropped = pending;
      pending = new ArrayList<>();
      pendingBytes = 0;
      lock.notifyAll();
    }
    for (Record record : dropped) {
      if (record instanceof Submit submit) {
        submit.done().completeExceptionally(notLeading());
      }
    }
    deadlines.shutdownNow();
    pool.close();
    if (dirLock != null) {
      try {
        dirLock.close();
      } catch (IOException e) {
        LOG.log(System.Logger.Level.WARNING, "cannot release the lock on the data dir", e);
      }
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
      deadlines.shutdownNow();
      pool.close();
      if (dirLock != null) {
        try {
          dirLock.close();
        } catch (IOException e) {
          LOG.log(System.Logger.Level.WARNING, "cannot release the lock on the data dir", e);
        }
      }
    }
  }
}
