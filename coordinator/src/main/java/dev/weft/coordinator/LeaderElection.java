package dev.weft.coordinator;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Which of the coordinators that share a PostgreSQL journal leads. The leader is whoever holds a
 * session-level advisory lock on a connection of its own; on taking it, it raises the epoch in
 * {@code weft.leader}, which every journal write then checks (see {@link PostgresJournal}), so a
 * leader that lost its lock writes nothing more.
 *
 * <p>A leader cut off from the database must also stop on its own, and the database must let its
 * lock go: the lock's session is told to end when idle for longer than the lease ({@code
 * idle_session_timeout}), while the leader pings it several times a lease and steps down once pings
 * have failed for most of a lease, before the database frees the lock for a standby.
 */
public final class LeaderElection implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(LeaderElection.class.getName());
  // 'weft' and 1: one lock per database; the journal's schema name is fixed too.
  static final long LOCK_KEY = 0x7765_6674_0000_0001L;
  private static final long POLL_MS = 500;
  private static final int CONNECT_TIMEOUT_S = 5;

  private final PostgresTarget target;
  private final String password;
  private final long leaseMs;
  private final LongSupplier nanoClock;
  private final LongSupplier epochClock;
  private final CountDownLatch closed = new CountDownLatch(1);
  // Only the thread in await() uses it until it leads; then only the lease's pinger.
  private volatile Connection db;
  private volatile String leaderHint;
  private volatile Leadership leadership;
  private boolean toldUnreachable;

  private LeaderElection(
      PostgresTarget target,
      String password,
      long leaseMs,
      LongSupplier nanoClock,
      LongSupplier epochClock) {
    this.target = target;
    this.password = password;
    this.leaseMs = leaseMs;
    this.nanoClock = nanoClock;
    this.epochClock = epochClock;
  }

  /**
   * An election on {@code config}'s PostgreSQL journal, whose schema is brought up to date first;
   * it fails when the database cannot be reached now, so a typo shows at once.
   */
  public static LeaderElection connect(CoordinatorConfig config)
      throws JournalUnavailableException {
    PostgresTarget target = config.postgresJournal();
    if (target == null) {
      throw new IllegalArgumentException("a leader election needs a PostgreSQL journal");
    }
    LeaderElection election =
        new LeaderElection(
            target,
            config.postgresPassword(),
            config.leaderLeaseMs(),
            config.nanoClock(),
            config.epochClock());
    PostgresJournal.migrate(target, config.postgresPassword());
    // Only a check: an idle connection would meet its own idle_session_timeout before await().
    try (Connection check = election.open()) {
      check.isValid(CONNECT_TIMEOUT_S);
    } catch (SQLException e) {
      throw new JournalUnavailableException(
          "cannot reach the journal at "
              + target
              + " ("
              + e.getMessage()
              + "); check that the database runs and takes this user and password",
          e);
    }
    return election;
  }

  /** A connection of the caller's own to the journal's database (for {@code shared_files}). */
  public Connection openConnection() throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", target.user());
    if (password != null) {
      props.setProperty("password", password);
    }
    props.setProperty("ApplicationName", "weft coordinator");
    props.setProperty("connectTimeout", String.valueOf(CONNECT_TIMEOUT_S));
    props.setProperty("socketTimeout", String.valueOf(Math.max(1, leaseMs / 1000)));
    props.setProperty("tcpKeepAlive", "true");
    return DriverManager.getConnection(target.jdbcUrl(), props);
  }

  private Connection open() throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", target.user());
    if (password != null) {
      props.setProperty("password", password);
    }
    props.setProperty("ApplicationName", "weft coordinator (leader election)");
    props.setProperty("connectTimeout", String.valueOf(CONNECT_TIMEOUT_S));
    props.setProperty("socketTimeout", String.valueOf(Math.max(1, leaseMs / 1000)));
    props.setProperty("tcpKeepAlive", "true");
    Connection connection = DriverManager.getConnection(target.jdbcUrl(), props);
    try (Statement s = connection.createStatement()) {
      connection.setAutoCommit(true);
      // The database ends this session (and frees the lock) when the leader goes quiet.
      s.execute("SET idle_session_timeout = " + leaseMs);
      s.execute("SET tcp_user_timeout = " + leaseMs);
    } catch (SQLException e) {
      connection.close();
      throw new SQLException(
          "the database does not take idle_session_timeout (PostgreSQL 14 or newer is needed): "
              + e.getMessage(),
          e);
    }
    return connection;
  }

  /** The leader's address as standbys tell it (when a leader holds the lock), or null. */
  public String leaderHint() {
    return leaderHint;
  }

  /**
   * Waits until this coordinator leads, recording {@code address} (where clients and workers reach
   * it) and {@code id} in {@code weft.leader}. Returns null once {@link #close} was called.
   */
  public Leadership await(String address, String id) throws InterruptedException {
    while (closed.getCount() > 0) {
      try {
        if (db == null || db.isClosed()) {
          db = open();
        }
        Long epoch = tryLead(address, id);
        if (epoch != null) {
          Leadership won = new Leadership(epoch);
          leadership = won;
          won.startPinging();
          return won;
        }
        if (toldUnreachable) {
          LOG.log(System.Logger.Level.INFO, "election: the journal at {0} answers again", target);
          toldUnreachable = false;
        }
      } catch (SQLException e) {
        if (!toldUnreachable) {
          LOG.log(
              System.Logger.Level.WARNING,
              "election: cannot reach the journal at {0} ({1}); trying again every {2} ms",
              target,
              e.getMessage(),
              POLL_MS);
          toldUnreachable = true;
        }
        closeQuietly();
      }
      closed.await(POLL_MS, TimeUnit.MILLISECONDS);
    }
    return null;
  }

  /**
   * One attempt to lead (for a coordinator embedded without a standby loop): the lead, or null when
   * another coordinator holds it.
   */
  public Leadership leadNow(String address, String id) throws JournalUnavailableException {
    try {
      if (db == null || db.isClosed()) {
        db = open();
      }
      Long epoch = tryLead(address, id);
      if (epoch == null) {
        return null;
      }
      Leadership won = new Leadership(epoch);
      leadership = won;
      won.startPinging();
      return won;
    } catch (SQLException e) {
      closeQuietly();
      throw new JournalUnavailableException(
          "cannot reach the journal at " + target + " (" + e.getMessage() + ")", e);
    }
  }

  /** Takes the lock and raises the epoch if nobody holds it; else notes who leads. */
  private Long tryLead(String address, String id) throws SQLException {
    try (PreparedStatement lock = db.prepareStatement("SELECT pg_try_advisory_lock(?)")) {
      lock.setLong(1, LOCK_KEY);
      try (ResultSet rs = lock.executeQuery()) {
        rs.next();
        if (!rs.getBoolean(1)) {
          leaderHint = readLeader();
          return null;
        }
      }
    }
    try (PreparedStatement raise =
        db.prepareStatement(
            "UPDATE "
                + PostgresJournal.SCHEMA
                + ".leader SET epoch = epoch + 1, address = ?, coordinator = ?, since_ms = ?"
                + " WHERE id = 1 RETURNING epoch")) {
      raise.setString(1, address);
      raise.setString(2, id);
      raise.setLong(3, epochClock.getAsLong());
      try (ResultSet rs = raise.executeQuery()) {
        if (!rs.next()) {
          throw new SQLException("weft.leader has no row: the journal's schema is damaged");
        }
        leaderHint = address;
        return rs.getLong(1);
      }
    } catch (SQLException e) {
      unlock();
      throw e;
    }
  }

  /** The address in weft.leader while some session holds the lock; null otherwise. */
  private String readLeader() throws SQLException {
    try (PreparedStatement q =
        db.prepareStatement(
            "SELECT address FROM "
                + PostgresJournal.SCHEMA
                + ".leader WHERE id = 1 AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype ="
                + " 'advisory' AND granted AND classid = ? AND objid = ? AND objsubid = 1)")) {
      q.setLong(1, LOCK_KEY >>> 32);
      q.setLong(2, LOCK_KEY & 0xFFFF_FFFFL);
      try (ResultSet rs = q.executeQuery()) {
        return rs.next() && !rs.getString(1).isEmpty() ? rs.getString(1) : null;
      }
    }
  }

  private void unlock() {
    try (PreparedStatement unlock = db.prepareStatement("SELECT pg_advisory_unlock(?)")) {
      unlock.setLong(1, LOCK_KEY);
      unlock.execute();
    } catch (SQLException e) {
      // Closing the session frees the lock all the same.
      closeQuietly();
    }
  }

  private void closeQuietly() {
    if (db == null) {
      return;
    }
    try {
      db.close();
    } catch (SQLException e) {
      LOG.log(System.Logger.Level.DEBUG, "election: closing a broken connection failed", e);
    }
    db = null;
  }

  /** Wakes {@link #await}, ends the lead (the lock goes with the connection). */
  @Override
  public void close() {
    closed.countDown();
    Leadership current = leadership;
    if (current != null) {
      current.release();
    }
  }

  /** This coordinator's lead: its epoch, kept while pings to the database succeed. */
  public final class Leadership {
    private final long epoch;
    private final ScheduledExecutorService pinger;
    private final Object lock = new Object();
    private long lastOkNanos;
    private Consumer<String> onLost = why -> {};
    private String lost;

    private Leadership(long epoch) {
      this.epoch = epoch;
      this.lastOkNanos = nanoClock.getAsLong();
      this.pinger =
          Executors.newSingleThreadScheduledExecutor(
              r -> Thread.ofPlatform().name("weft-leader-lease").daemon(true).unstarted(r));
    }

    public long epoch() {
      return epoch;
    }

    /** Where the journal lives, for messages. */
    public String journal() {
      return target.toString();
    }

    /**
     * Runs {@code action} (once, on the lease's thread) when the lead is lost; at once if it
     * already was.
     */
    public void onLost(Consumer<String> action) {
      String why;
      synchronized (lock) {
        onLost = action;
        why = lost;
      }
      if (why != null) {
        action.accept(why);
      }
    }

    /** Why the lead was lost, or null while it holds. */
    public String lostBecause() {
      synchronized (lock) {
        return lost;
      }
    }

    private void startPinging() {
      long every = Math.max(50, leaseMs / 5);
      pinger.scheduleWithFixedDelay(this::ping, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * Asks the database whether this epoch still leads. A failed ping is tried again until most of
     * a lease has passed since the last good one: the database ends the session only after a whole
     * lease of silence, so the old leader is gone before a standby can take the lock.
     */
    private void ping() {
      try {
        db.setNetworkTimeout(Runnable::run, (int) Math.max(100, leaseMs * 2 / 5));
        try (Statement s = db.createStatement();
            ResultSet rs =
                s.executeQuery(
                    "SELECT epoch FROM " + PostgresJournal.SCHEMA + ".leader WHERE id = 1")) {
          long now = rs.next() ? rs.getLong(1) : -1;
          if (now != epoch) {
            lose("another coordinator took the lead (epoch " + now + " after " + epoch + ")");
            return;
          }
        }
        synchronized (lock) {
          lastOkNanos = nanoClock.getAsLong();
        }
      } catch (SQLException e) {
        boolean gone;
        try {
          gone = db.isClosed();
        } catch (SQLException closedCheck) {
          gone = true;
        }
        if (gone) {
          lose("the connection that held the lead broke (" + e.getMessage() + ")");
          return;
        }
        long silentMs;
        synchronized (lock) {
          silentMs = TimeUnit.NANOSECONDS.toMillis(nanoClock.getAsLong() - lastOkNanos);
        }
        if (silentMs >= leaseMs * 3 / 5) {
          lose("the journal at " + target + " did not answer for " + silentMs + " ms");
        } else {
          LOG.log(
              System.Logger.Level.WARNING,
              "election: the journal at {0} did not answer a ping ({1})",
              target,
              e.getMessage());
        }
      }
    }

    private void lose(String why) {
      Consumer<String> action;
      synchronized (lock) {
        if (lost != null) {
          return;
        }
        lost = why;
        action = onLost;
      }
      pinger.shutdown();
      leadership = null;
      closeQuietly();
      LOG.log(System.Logger.Level.ERROR, "election: lost the lead: {0}", why);
      action.accept(why);
    }

    /** Gives the lead up (a graceful stop): the lock goes at once, for a standby to take. */
    public void release() {
      synchronized (lock) {
        if (lost != null) {
          return;
        }
        lost = "released";
      }
      pinger.shutdownNow();
      try {
        pinger.awaitTermination(leaseMs, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (leadership == this) {
        leadership = null;
      }
      unlock();
      closeQuietly();
    }
  }
}
