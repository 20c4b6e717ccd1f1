package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/**
 * The journal's contract ({@link JournalContractTest}) on SQLite in the data dir, and what only
 * that back-end has.
 */
class JournalTest extends JournalContractTest {

  @Override
  CoordinatorConfig journalOn(CoordinatorConfig config) {
    return config;
  }

  @Override
  Journal openJournal(Duration retention, int keepFinished) throws Exception {
    return SqliteJournal.open(dataDir, retention, keepFinished);
  }

  @Override
  void startJournal(Journal journal, Runnable onCaughtUp, BiConsumer<String, String> onSetAside) {
    ((SqliteJournal) journal).start(onCaughtUp, onSetAside);
  }

  @Override
  long maxBacklogBytes() {
    return SqliteJournal.MAX_BACKLOG_BYTES;
  }

  @Override
  Connection reader() throws Exception {
    return DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve(SqliteJournal.FILE_NAME));
  }

  @Override
  AutoCloseable refuseWrites() throws Exception {
    Connection other = reader();
    Statement lock = other.createStatement();
    lock.execute("BEGIN EXCLUSIVE"); // as a disk that refuses writes would: every commit fails
    return () -> {
      try (other;
          lock) {
        lock.execute("ROLLBACK");
      }
    };
  }

  @Override
  void poisonResultsOf(String jobId) throws Exception {
    try (Connection db = reader();
        Statement s = db.createStatement()) {
      s.executeUpdate("PRAGMA busy_timeout = 10000");
      s.executeUpdate(
          "CREATE TRIGGER poison BEFORE INSERT ON results WHEN NEW.job_id = '"
              + jobId
              + "' BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END");
    }
  }

  @Override
  Class<? extends Journal> journalClass() {
    return SqliteJournal.class;
  }

  @Test
  void aDataDirThatIsAFileIsRefused() throws Exception {
    Path file = Files.createFile(dataDir.resolve("not-a-dir"));
    DataDirException e =
        assertThrows(
            DataDirException.class, () -> SqliteJournal.open(file, Duration.ofDays(1), 10).close());
    assertTrue(e.getMessage().contains(file + " exists and is not a directory"), e.getMessage());
  }
}
