package dev.weft.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.Timestamps;
import dev.weft.coordinator.Journal.SavedJob;
import dev.weft.coordinator.Journal.SavedResult;
import dev.weft.coordinator.Journal.SavedRetry;
import dev.weft.v1.Job;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobState;
import dev.weft.v1.TaskFailure;
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
 * The SQL of the PostgreSQL journal ({@link PostgresJournal}): forgetting old finished jobs and
 * reading the rest back when a coordinator starts, and the statements its writer runs. The tables
 * are created by the migrations in {@code db/postgresql} and are those of {@link JournalTables}.
 */
final class PostgresTables {
  private static final System.Logger LOG = System.getLogger(PostgresTables.class.getName());

  private PostgresTables() {}

  /**
   * Forgets finished jobs older than {@code cutoffMs} or beyond the newest {@code keepFinished}.
   */
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

  /** Every job kept, in submission order, unfinished ones with their results and retries. */
  static List<SavedJob> load(Connection db) throws SQLException {
    List<SavedJob> jobs = new ArrayList<>();
    Map<String, List<SavedResult>> results = new HashMap<>();
    Map<String, List<SavedRetry>> retries = new HashMap<>();
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
        List<SavedRetry> retried = last == null ? new ArrayList<>() : List.of();
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
        ResultSet rs = s.executeQuery("SELECT job_id, batch FROM results ORDER BY seq")) {
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

  private static void loadRetries(
      Connection db, Map<String, List<SavedRetry>> into, Map<String, Integer> taskCounts)
      throws SQLException {
    try (Statement s = db.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT job_id, task, attempts, retry_at_ms, failure FROM retries ORDER BY seq")) {
      while (rs.next()) {
        String id = rs.getString(1);
        List<SavedRetry> retries = into.get(id);
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
              new SavedRetry(task, attempts, rs.getLong(4), TaskFailure.parseFrom(rs.getBytes(5))));
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

  /**
   * The writer's statements on one connection, for one transaction: prepared on first use (the
   * driver keeps server-side plans per connection) and closed with the transaction.
   */
  static final class Statements implements AutoCloseable {
    private final Connection db;
    private final Map<String, PreparedStatement> prepared = new HashMap<>();

    Statements(Connection db) {
      this.db = db;
    }

    private PreparedStatement statement(String sql) throws SQLException {
      PreparedStatement s = prepared.get(sql);
      if (s == null) {
        s = db.prepareStatement(sql);
        prepared.put(sql, s);
      }
      return s;
    }

    void insertJob(String id, byte[] spec, int tasks, long createdMs) throws SQLException {
      // As SQLite's INSERT OR REPLACE: a job id recorded again starts afresh.
      PreparedStatement s =
          statement(
              "INSERT INTO jobs(id, spec, tasks, created_ms) VALUES (?, ?, ?, ?)"
                  + " ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, tasks = EXCLUDED.tasks,"
                  + " created_ms = EXCLUDED.created_ms, started_ms = 0, stop_target = 0,"
                  + " stop_reason = '', finished_ms = NULL, final = NULL");
      s.setString(1, id);
      s.setBytes(2, spec);
      s.setInt(3, tasks);
      s.setLong(4, createdMs);
      s.executeUpdate();
    }

    void markStarted(String id, long startedMs) throws SQLException {
      PreparedStatement s = statement("UPDATE jobs SET started_ms = ? WHERE id = ?");
      s.setLong(1, startedMs);
      s.setString(2, id);
      s.executeUpdate();
    }

    void updateSpec(String id, JobSpec spec) throws SQLException {
      PreparedStatement s = statement("UPDATE jobs SET spec = ? WHERE id = ?");
      s.setBytes(1, spec.toByteArray());
      s.setString(2, id);
      s.executeUpdate();
    }

    void markStopping(String id, int target, String reason) throws SQLException {
      PreparedStatement s =
          statement("UPDATE jobs SET stop_target = ?, stop_reason = ? WHERE id = ?");
      s.setInt(1, target);
      s.setString(2, reason);
      s.setString(3, id);
      s.executeUpdate();
    }

    /** Records the job's end; its results and retries go ({@code fresh}: it has none yet). */
    void markFinished(Job job, boolean fresh) throws SQLException {
      PreparedStatement s = statement("UPDATE jobs SET finished_ms = ?, final = ? WHERE id = ?");
      s.setLong(1, job.hasFinished() ? Timestamps.toMillis(job.getFinished()) : 0);
      s.setBytes(2, job.toByteArray());
      s.setString(3, job.getId());
      s.executeUpdate();
      if (!fresh) {
        deleteRows("results", job.getId());
        deleteRows("retries", job.getId());
      }
    }

    void deleteJob(String id) throws SQLException {
      deleteRows("jobs", id);
      deleteRows("results", id);
      deleteRows("retries", id);
    }

    private void deleteRows(String table, String id) throws SQLException {
      PreparedStatement s =
          statement(
              "DELETE FROM "
                  + table
                  + " WHERE "
                  + (table.equals("jobs") ? "id" : "job_id")
                  + " = ?");
      s.setString(1, id);
      s.executeUpdate();
    }

    void insertRetry(String id, TaskFailure failure) throws SQLException {
      PreparedStatement s =
          statement(
              "INSERT INTO retries(job_id, task, attempts, retry_at_ms, failure)"
                  + " VALUES (?, ?, ?, ?, ?)");
      s.setString(1, id);
      s.setInt(2, failure.getTask());
      s.setInt(3, failure.getAttempt());
      s.setLong(4, failure.hasRetryAt() ? Timestamps.toMillis(failure.getRetryAt()) : 0);
      s.setBytes(5, failure.toByteArray());
      s.executeUpdate();
    }

    void insertResults(String id, byte[] batch) throws SQLException {
      PreparedStatement s = statement("INSERT INTO results(job_id, batch) VALUES (?, ?)");
      s.setString(1, id);
      s.setBytes(2, batch);
      s.executeUpdate();
    }

    void deleteFinishedBefore(long cutoffMs) throws SQLException {
      PreparedStatement s =
          statement("DELETE FROM jobs WHERE finished_ms IS NOT NULL AND finished_ms < ?");
      s.setLong(1, cutoffMs);
      s.executeUpdate();
    }

    @Override
    public void close() throws SQLException {
      SQLException first = null;
      for (PreparedStatement s : prepared.values()) {
        try {
          s.close();
        } catch (SQLException e) {
          if (first == null) {
            first = e;
          } else {
            first.addSuppressed(e);
          }
        }
      }
      prepared.clear();
      if (first != null) {
        throw first;
      }
    }
  }
}
