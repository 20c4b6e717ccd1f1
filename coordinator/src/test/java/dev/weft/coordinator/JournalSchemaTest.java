package dev.weft.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.v1.JobSpec;
import dev.weft.v1.SumParams;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal's schema versions: an older journal is taken as it is, a newer one refused. */
final class JournalSchemaTest {
  @TempDir private Path dataDir;

  private Connection connect() throws Exception {
    return DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve(SqliteJournal.FILE_NAME));
  }

  private static int userVersion(Connection db) throws Exception {
    try (Statement s = db.createStatement();
        ResultSet rs = s.executeQuery("PRAGMA user_version")) {
      return rs.next() ? rs.getInt(1) : 0;
    }
  }

  @Test
  void aJournalOfSchemaOneGainsTheRetriesTableAndKeepsItsJobs() throws Exception {
    JobSpec spec = JobSpec.newBuilder().setSum(SumParams.newBuilder().setFrom(1).setTo(10)).build();
    // The tables as the first schema had them, with one unfinished job.
    try (Connection db = connect();
        Statement s = db.createStatement()) {
      s.executeUpdate(
          "CREATE TABLE jobs(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, spec BLOB NOT NULL,"
              + " tasks INTEGER NOT NULL, created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL"
              + " DEFAULT 0, stop_target INTEGER NOT NULL DEFAULT 0, stop_reason TEXT NOT NULL"
              + " DEFAULT '', finished_ms INTEGER, final BLOB)");
      s.executeUpdate("CREATE TABLE results(job_id TEXT NOT NULL, batch BLOB NOT NULL)");
      s.executeUpdate("PRAGMA user_version = 1");
      try (PreparedStatement insert =
          db.prepareStatement(
              "INSERT INTO jobs(id, spec, tasks, created_ms) VALUES ('jold', ?, 1, 1000)")) {
        insert.setBytes(1, spec.toByteArray());
        insert.executeUpdate();
      }
    }

    try (SqliteJournal journal = SqliteJournal.open(dataDir, Duration.ofDays(7), 100)) {
      assertEquals(1, journal.saved().size());
      Journal.SavedJob saved = journal.saved().getFirst();
      assertEquals("jold", saved.id());
      assertEquals(spec, saved.spec());
      assertEquals(0, saved.retries().size());
    }
    try (Connection db = connect();
        Statement s = db.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM retries")) {
      assertEquals(JournalTables.SCHEMA_VERSION, userVersion(db));
      assertTrue(rs.next());
      assertEquals(0, rs.getInt(1));
    }
  }

  @Test
  void aJournalOfANewerSchemaIsRefusedSayingSo() throws Exception {
    try (Connection db = connect();
        Statement s = db.createStatement()) {
      s.executeUpdate("PRAGMA user_version = " + (JournalTables.SCHEMA_VERSION + 1));
    }
    DataDirException e =
        assertThrows(
            DataDirException.class, () -> SqliteJournal.open(dataDir, Duration.ofDays(7), 100));
    assertTrue(
        e.getMessage().contains("was written by a newer weft (schema 3; this one reads 2)"),
        e.getMessage());
  }
}
