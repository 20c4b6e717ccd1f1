package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The journal's contract ({@link JournalContractTest}) on PostgreSQL (a server of the class's own,
 * see {@link TestPostgres}; a database of each test's own), and what only that back-end has.
 */
class PostgresJournalTest extends JournalContractTest {
  @RegisterExtension static final TestPostgres.PerClass SERVER = new TestPostgres.PerClass();

  private String database;

  @BeforeEach
  void createDatabase() throws Exception {
    database = SERVER.get().createDatabase();
  }

  private PostgresTarget target() {
    return PostgresTarget.parse(SERVER.get().url(database));
  }

  @Override
  CoordinatorConfig journalOn(CoordinatorConfig config) {
    return config.postgresJournal(target(), TestPostgres.PASSWORD);
  }

  @Override
  Journal openJournal(Duration retention, int keepFinished) throws Exception {
    return PostgresJournal.open(
        target(),
        TestPostgres.PASSWORD,
        dataDir,
        retention,
        keepFinished,
        System.currentTimeMillis(),
        currentEpoch(),
        10_000,
        System::nanoTime);
  }

  /** The test writes as the leader of the moment: the epoch the last coordinator left. */
  private long currentEpoch() throws Exception {
    try (Connection db = SERVER.get().connect(database);
        Statement s = db.createStatement();
        var rs = s.executeQuery("SELECT epoch FROM weft.leader WHERE id = 1")) {
      return rs.next() ? rs.getLong(1) : 0;
    } catch (java.sql.SQLException e) {
      return 0; // no schema yet: the journal's open makes it, at epoch 0
    }
  }

  @Override
  void startJournal(Journal journal, Runnable onCaughtUp, BiConsumer<String, String> onSetAside) {
    ((PostgresJournal) journal).start(onCaughtUp, onSetAside);
  }

  @Override
  long maxBacklogBytes() {
    return PostgresJournal.MAX_BACKLOG_BYTES;
  }

  @Override
  Connection reader() throws Exception {
    Connection db = SERVER.get().connect(database);
    db.setSchema(PostgresJournal.SCHEMA);
    return db;
  }

  @Override
  AutoCloseable refuseWrites() throws Exception {
    // Every commit waits on the lock until the submission's deadline, as on a hung server.
    Connection other = reader();
    other.setAutoCommit(false);
    try (Statement s = other.createStatement()) {
      s.execute("LOCK TABLE jobs, results, retries IN ACCESS EXCLUSIVE MODE");
    }
    return () -> {
      try (other) {
        other.rollback();
      }
    };
  }

  @Override
  void poisonResultsOf(String jobId) throws Exception {
    try (Connection db = reader();
        Statement s = db.createStatement()) {
      s.execute(
          "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
              + " IF NEW.job_id = '"
              + jobId
              + "' THEN RAISE EXCEPTION 'poisoned by the test'; END IF; RETURN NEW; END $$");
      s.execute(
          "CREATE TRIGGER poison BEFORE INSERT ON results FOR EACH ROW EXECUTE FUNCTION poison()");
    }
  }

  @Override
  Class<? extends Journal> journalClass() {
    return PostgresJournal.class;
  }

  @Test
  void aWrongPasswordIsRefusedAtStartNamingTheDatabaseButNotThePassword() {
    JournalUnavailableException e =
        assertThrows(
            JournalUnavailableException.class,
            () ->
                PostgresJournal.open(
                        target(),
                        "not-the-password",
                        dataDir,
                        Duration.ofDays(1),
                        10,
                        System.currentTimeMillis(),
                        0,
                        10_000,
                        System::nanoTime)
                    .close());
    assertTrue(
        e.getMessage().startsWith("cannot open the journal at " + target() + " ("), e.getMessage());
    assertTrue(e.getMessage().contains("password authentication failed"), e.getMessage());
    assertTrue(!e.getMessage().contains("not-the-password"), e.getMessage());
  }

  @Test
  void aSchemaWrittenByANewerWeftIsRefused() throws Exception {
    openJournal(Duration.ofDays(1), 10).close();
    try (Connection db = reader();
        Statement s = db.createStatement()) {
      s.execute(
          "INSERT INTO flyway_schema_history(installed_rank, version, description, type, script,"
              + " checksum, installed_by, execution_time, success) VALUES (99, '99', 'later',"
              + " 'SQL', 'V99__later.sql', 0, 'weft', 0, true)");
    }
    JournalUnavailableException e =
        assertThrows(
            JournalUnavailableException.class, () -> openJournal(Duration.ofDays(1), 10).close());
    assertTrue(
        e.getMessage().startsWith("cannot bring the journal's schema at " + target()),
        e.getMessage());
    assertTrue(e.getMessage().endsWith("if a newer weft wrote it, run that weft"), e.getMessage());
  }

  @Test
  void theSchemaIsCreatedOnceAndKeptInSchemaWeft() throws Exception {
    openJournal(Duration.ofDays(1), 10).close();
    openJournal(Duration.ofDays(1), 10).close();
    try (Connection db = reader();
        Statement s = db.createStatement();
        var rs =
            s.executeQuery(
                "SELECT string_agg(table_name, ',' ORDER BY table_name)"
                    + " FROM information_schema.tables WHERE table_schema = 'weft'")) {
      assertTrue(rs.next());
      assertEquals(
          "flyway_schema_history,jobs,leader,results,retries,shared_files", rs.getString(1));
    }
  }

  @Test
  void aWriteAfterAnotherEpochTookTheLeadIsRefusedAndNothingMoreIsWritten() throws Exception {
    Journal journal = openJournal(Duration.ofDays(1), 10);
    java.util.concurrent.CountDownLatch fenced = new java.util.concurrent.CountDownLatch(1);
    ((PostgresJournal) journal).onFenced(fenced::countDown);
    startJournal(journal, () -> {}, (id, why) -> {});
    try {
      try (Connection db = reader();
          Statement s = db.createStatement()) {
        s.execute("UPDATE leader SET epoch = epoch + 1");
      }
      dev.weft.v1.JobSpec spec =
          dev.weft.v1.JobSpec.newBuilder()
              .setSum(dev.weft.v1.SumParams.newBuilder().setFrom(1).setTo(10))
              .setTasks(1)
              .build();
      java.util.concurrent.ExecutionException refused =
          assertThrows(
              java.util.concurrent.ExecutionException.class,
              () ->
                  journal
                      .submitted("jlate", spec, 1, System.currentTimeMillis())
                      .get(10, java.util.concurrent.TimeUnit.SECONDS));
      assertTrue(
          refused.getCause().getMessage().contains("no longer leads the journal"),
          refused.getCause()::toString);
      assertTrue(fenced.await(10, java.util.concurrent.TimeUnit.SECONDS), "not told it is fenced");
      journal.submitted("jlater", spec, 1, System.currentTimeMillis());
    } finally {
      journal.close();
    }
    try (Connection db = reader();
        Statement s = db.createStatement();
        var rs = s.executeQuery("SELECT count(*) FROM jobs")) {
      assertTrue(rs.next());
      assertEquals(0, rs.getLong(1), "a fenced journal wrote a job");
    }
  }
}
