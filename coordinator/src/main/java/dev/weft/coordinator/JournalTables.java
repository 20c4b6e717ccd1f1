package dev.weft.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.Timestamps;
import dev.weft.coordinator.Journal.SavedJob;
import dev.weft.coordinator.Journal.SavedResult;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The SQL of the journal ({@link SqliteJournal}): its tables, forgetting old finished jobs and
 * reading the rest back when a coordinator starts, and the statements its writer runs.
 *
 * <pre>
 * jobs(seq, id, spec, tasks, created_ms, started_ms, stop_target, stop_reason, finished_ms, final)
 * results(job_id, batch)    a job's recorded task results, until it finishes (see ResultBatch)
 * retries(job_id, task, attempts, retry_at_ms, failure)
 *                            a task's failed attempts that were retried, until its job finishes
 * </pre>
 *
 * <p>Schema versions: 1 jobs and results; 2 adds retries (created when missing, so a version 1
 * journal is read as it is).
 */
final class JournalTables {
  private static final System.Logger LOG = System.getLogger(JournalTables.class.getName());
  static final int SCHEMA_VERSION = 2;

  private JournalTables() {}

  static void createSchema(Connection db, Path file) throws SQLException, DataDirException {
    try (Statement s = db.createStatement()) {
      int version;
      try (ResultSet rs = s.executeQuery("PRAGMA user_version")) {
        version = rs.next() ? rs.getInt(1) : 0;
      }
      if (version > SCHEMA_VERSION) {
        throw new DataDirException(
            "the journal "
                + file
                + " was written by a newer weft (schema "
                + version
                + "; this one reads "
                + SCHEMA_VERSION
                + "); run that weft, or choose another --data-dir");
      }
      s.executeUpdate(
          "CREATE TABLE IF NOT EXISTS jobs("
              + " seq INTEGER PRIMARY KEY,"
              + " id TEXT NOT NULL UNIQUE,"
              + " spec BLOB NOT NULL,"
              + " tasks INTEGER NOT NULL,"
              + " created_ms INTEGER NOT NULL,"
              + " started_ms INTEGER NOT NULL DEFAULT 0,"
              + " stop_target INTEGER NOT NULL DEFAULT 0,"
              + " stop_reason TEXT NOT NULL DEFAULT '',"
              + " finished_ms INTEGER,"
              + " final BLOB)");
      s.executeUpdate(
          "CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_ms)"
              + " WHERE finished_ms IS NOT NULL");
      s.executeUpdate(
          "CREATE TABLE IF NOT EXISTS results(job_id TEXT NOT NULL, batch BLOB NOT NULL)");
      s.executeUpdate("CREATE INDEX IF NOT EXISTS results_job ON results(job_id)");
      s.executeUpdate(
          "CREATE TABLE IF NOT EXISTS retries("
              + " job_id TEXT NOT NULL,"
              + " task INTEGER NOT NULL,"
              + " attempts INTEGER NOT NULL,"
              + " retry_at_ms INTEGER NOT NULL,"
              + " failure BLOB NOT NULL)");
      s.executeUpdate("CREATE INDEX IF NOT EXISTS retries_job ON retries(job_id)");
      s.executeUpdate("PRAGMA user_version = " + SCHEMA_VERSION);
    }
  }

  static void prune(Connection db, long cutoffMs, int keepFinished) throws SQLException {
    try (PreparedStatement old =
            db.prepareStatement(
                "DELETE FROM jobs WHERE finished_ms IS NOT NULL AND finished_ms < ?");
        PreparedStatement many =
            db.prepareStatement(
                "DELETE FROM jobs WHERE finished_ms IS NOT NULL AND seq NOT IN (SELECT seq FROM"
                    + " jobs WHERE finished_ms IS NOT NULL ORDER BY finished_ms DESC LIMIT ?)");
        Statement orphans = db.createStatement()) {
      old.setLong(1, cutoffMs);
      int forgotten = old.executeUpdate();
      many.setInt(1, keepFinished);
      forgotten += many.executeUpdate();
      orphans.executeUpdate(
          "DELETE FROM results WHERE job_id NOT IN (SELECT id FROM jobs WHERE final IS NULL)");
      orphans.executeUpdate(
          "DELETE FROM retries WHERE job_id NOT IN (SELECT id FROM jobs WHERE final IS NULL)");
      if (forgotten > 0) {
        LOG.log(System.Logger.Level.INFO, "journal: forgot {0} old finished jobs", forgotten);
      }
    }
  }

  static List<SavedJob> load(Connection db) throws SQLException {
    List<SavedJob> jobs = new ArrayList<>();
    // Filled below: a saved job holds its (mutable) result list until the scheduler takes it.
    Map<String, List<SavedResult>> results = new HashMap<>();
    Map<String, List<Journal.SavedRetry>> retries = new HashMap<>();
    Map<String, Integer> taskCounts = new HashMap<>();
    try (Statement s = db.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT id, spec, tasks, created_ms, started_ms, stop_target, stop_reason, final"
                    + " FROM jobs ORDER BY seq")) {
      while (rs.next()) {
        String id = rs.getString(1);
        byte[] last = rs.getBytes(8);
        List<SavedResult> saved = last == null ? new ArrayList<>() : List.of();
        List<Journal.SavedRetry> retried = last == null ? new ArrayList<>() : List.of();
        try {
          jobs.add(
              new SavedJob(
                  id,
                  JobSpec.parseFrom(rs.getBytes(2)),
                  rs.getInt(3),
                  rs.getLong(4),
                  rs.getLong(5),
                  rs.getInt(6) == 0 ? null : JobState.forNumber(rs.getInt(6)),
                  rs.getString(7),
                  saved,
                  retried,
                  last == null ? null : Job.parseFrom(last)));
        } catch (InvalidProtocolBufferException e) {
          LOG.log(
              System.Logger.Level.WARNING,
              "journal: job {0} is unreadable ({1}); it is skipped",
              id,
              e.getMessage());
          continue;
        }
        if (last == null) {
          results.put(id, saved);
          retries.put(id, retried);
          taskCounts.put(id, rs.getInt(3));
        }
      }
    }
    try (Statement s = db.createStatement();
        ResultSet rs = s.executeQuery("SELECT job_id, batch FROM results ORDER BY rowid")) {
      while (rs.next()) {
        String id = rs.getString(1);
        List<SavedResult> into = results.get(id);
        if (into == null) {
          continue;
        }
        try {
          ResultBatch.decode(rs.getBytes(2), taskCounts.get(id), into);
        } catch (InvalidProtocolBufferException e) {
          // What was decoded stays; the batch's other tasks run again.
          LOG.log(
              System.Logger.Level.WARNING,
              "journal: a result batch of job {0} is unreadable ({1}); its tasks run again",
              id,
              e.getMessage());
        }
      }
    }
    loadRetries(db, retries, taskCounts);
    return jobs;
  }

  /** Adds each unfinished job's retried failures to its list, skipping rows that do not fit it. */
  private static void loadRetries(
      Connection db, Map<String, List<Journal.SavedRetry>> into, Map<String, Integer> taskCounts)
      throws SQLException {
    try (Statement s = db.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT job_id, task, attempts, retry_at_ms, failure FROM retries ORDER BY rowid")) {
      while (rs.next()) {
        String id = rs.getString(1);
        List<Journal.SavedRetry> retries = into.get(id);
        if (retries == null) {
          continue;
        }
        int task = rs.getInt(2);
        int attempts = rs.getInt(3);
        if (task < 0 || task >= taskCounts.get(id) || attempts < 1) {
          LOG.log(
              System.Logger.Level.WARNING,
              "journal: a retry of job {0} names task {1} after {2} attempts, which the job does"
                  + " not have; it is skipped",
              id,
              task,
              attempts);
          continue;
        }
        try {
          retries.add(
              new Journal.SavedRetry(
                  task, attempts, rs.getLong(4), TaskFailure.parseFrom(rs.getBytes(5))));
        } catch (InvalidProtocolBufferException e) {
          LOG.log(
              System.Logger.Level.WARNING,
              "journal: a retry of job {0} is unreadable ({1}); it is skipped",
              id,
              e.getMessage());
        }
      }
    }
  }

  /** The prepared statements the writer uses; one set, on the writer's thread only. */
  static final class Statements implements AutoCloseable {
    private final Statement plain;
    private final PreparedStatement insertJob;
    private final PreparedStatement markStarted;
    private final PreparedStatement markStopping;
    private final PreparedStatement updateSpec;
    private final PreparedStatement markFinished;
    private final PreparedStatement deleteResults;
    private final PreparedStatement deleteJob;
    private final PreparedStatement insertResults;
    private final PreparedStatement insertRetry;
    private final PreparedStatement deleteRetries;
    private final PreparedStatement deleteFinishedBefore;

    Statements(Connection db) throws SQLException {
      plain = db.createStatement();
      insertJob =
          db.prepareStatement(
              "INSERT OR REPLACE INTO jobs(id, spec, tasks, created_ms) VALUES (?, ?, ?, ?)");
      markStarted = db.prepareStatement("UPDATE jobs SET started_ms = ? WHERE id = ?");
      markStopping =
          db.prepareStatement("UPDATE jobs SET stop_target = ?, stop_reason = ? WHERE id = ?");
      updateSpec = db.prepareStatement("UPDATE jobs SET spec = ? WHERE id = ?");
      markFinished = db.prepareStatement("UPDATE jobs SET finished_ms = ?, final = ? WHERE id = ?");
      deleteResults = db.prepareStatement("DELETE FROM results WHERE job_id = ?");
      deleteJob = db.prepareStatement("DELETE FROM jobs WHERE id = ?");
      insertResults = db.prepareStatement("INSERT INTO results(job_id, batch) VALUES (?, ?)");
      insertRetry =
          db.prepareStatement(
              "INSERT INTO retries(job_id, task, attempts, retry_at_ms, failure)"
                  + " VALUES (?, ?, ?, ?, ?)");
      deleteRetries = db.prepareStatement("DELETE FROM retries WHERE job_id = ?");
      deleteFinishedBefore =
          db.prepareStatement("DELETE FROM jobs WHERE finished_ms IS NOT NULL AND finished_ms < ?");
    }

    void begin() throws SQLException {
      plain.executeUpdate("BEGIN IMMEDIATE");
    }

    void commit() throws SQLException {
      plain.executeUpdate("COMMIT");
    }

    void rollback(Exception cause) {
      try {
        plain.executeUpdate("ROLLBACK");
      } catch (SQLException e) {
        cause.addSuppressed(e); // no transaction left to roll back
      }
    }

    void insertJob(String id, byte[] spec, int tasks, long createdMs) throws SQLException {
      insertJob.setString(1, id);
      insertJob.setBytes(2, spec);
      insertJob.setInt(3, tasks);
      insertJob.setLong(4, createdMs);
      insertJob.executeUpdate();
    }

    void markStarted(String id, long startedMs) throws SQLException {
      markStarted.setLong(1, startedMs);
      markStarted.setString(2, id);
      markStarted.executeUpdate();
    }

    void updateSpec(String id, JobSpec spec) throws SQLException {
      updateSpec.setBytes(1, spec.toByteArray());
      updateSpec.setString(2, id);
      updateSpec.executeUpdate();
    }

    void markStopping(String id, int target, String reason) throws SQLException {
      markStopping.setInt(1, target);
      markStopping.setString(2, reason);
      markStopping.setString(3, id);
      markStopping.executeUpdate();
    }

    void markFinished(Job job) throws SQLException {
      markFinished.setLong(1, job.hasFinished() ? Timestamps.toMillis(job.getFinished()) : 0);
      markFinished.setBytes(2, job.toByteArray());
      markFinished.setString(3, job.getId());
      markFinished.executeUpdate();
      deleteResults.setString(1, job.getId());
      deleteResults.executeUpdate();
      deleteRetries.setString(1, job.getId());
      deleteRetries.executeUpdate();
    }

    /** As {@link #markFinished}, for a job inserted in the same commit: it has no results yet. */
    void markFinishedNew(Job job) throws SQLException {
      markFinished.setLong(1, job.hasFinished() ? Timestamps.toMillis(job.getFinished()) : 0);
      markFinished.setBytes(2, job.toByteArray());
      markFinished.setString(3, job.getId());
      markFinished.executeUpdate();
    }

    void deleteJob(String id) throws SQLException {
      deleteJob.setString(1, id);
      deleteJob.executeUpdate();
      deleteResults.setString(1, id);
      deleteResults.executeUpdate();
      deleteRetries.setString(1, id);
      deleteRetries.executeUpdate();
    }

    void insertRetry(String id, TaskFailure failure) throws SQLException {
      insertRetry.setString(1, id);
      insertRetry.setInt(2, failure.getTask());
      insertRetry.setInt(3, failure.getAttempt());
      insertRetry.setLong(4, failure.hasRetryAt() ? Timestamps.toMillis(failure.getRetryAt()) : 0);
      insertRetry.setBytes(5, failure.toByteArray());
      insertRetry.executeUpdate();
    }

    void insertResults(String id, byte[] batch) throws SQLException {
      insertResults.setString(1, id);
      insertResults.setBytes(2, batch);
      insertResults.executeUpdate();
    }

    void deleteFinishedBefore(long cutoffMs) throws SQLException {
      deleteFinishedBefore.setLong(1, cutoffMs);
      deleteFinishedBefore.executeUpdate();
    }

    @Override
    public void close() throws SQLException {
      for (Statement s :
          List.of(
              plain,
              insertJob,
              markStarted,
              markStopping,
              updateSpec,
              markFinished,
              deleteResults,
              deleteJob,
              insertResults,
              insertRetry,
              deleteRetries,
              deleteFinishedBefore)) {
        s.close();
      }
    }
  }
}
