package dev.weft.coordinator.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The security files coordinators sharing a PostgreSQL journal must have alike (the CA, the join
 * secret, revoked secrets, client tokens and the local admin token), kept in the journal's {@code
 * shared_files} table, so join and client tokens stay valid when a standby takes over. The first
 * coordinator's files become the pair's; the others take them; the leader writes back what changed
 * (a token created or revoked). Each coordinator still makes its own server certificate, for its
 * own names, from the shared CA.
 *
 * <p>Whoever can write the journal can already run any command on every worker (it holds the jobs),
 * so the CA key in the database widens nobody's reach; the database's access rules guard both.
 */
public final class SharedSecurityFiles implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(SharedSecurityFiles.class.getName());
  private static final String TABLE = "weft.shared_files";

  /** Opens a connection to the journal's database. */
  public interface Connector {
    Connection open() throws SQLException;
  }

  private final SecurityFiles files;
  private final Connector connector;
  // One thread at a time: the start, then the periodic sync.
  private Connection db;
  // What each file held when last synced, to see a local change.
  private final Map<String, byte[]> synced = new HashMap<>();
  private long seenUpdatedMs = -1;

  public SharedSecurityFiles(Path dataDir, Connector connector) {
    this.files = new SecurityFiles(dataDir);
    this.connector = connector;
  }

  private Map<String, Path> shared() {
    Map<String, Path> paths = new LinkedHashMap<>();
    for (Path path :
        List.of(
            files.caCert(),
            files.caKey(),
            files.secret(),
            files.revoked(),
            files.clients(),
            files.adminToken())) {
      paths.put(path.getFileName().toString(), path);
    }
    return paths;
  }

  private Connection db() throws SQLException {
    if (db == null || db.isClosed()) {
      db = connector.open();
    }
    return db;
  }

  /**
   * After this data dir's files were made or loaded: when the journal holds none yet, ours become
   * the shared ones; else theirs replace ours. True when local files changed (prepare the
   * coordinator's security again).
   */
  public boolean adopt() throws SQLException, IOException {
    Connection c = db();
    c.setAutoCommit(false);
    try {
      try (Statement s = c.createStatement()) {
        // Two coordinators starting at once: one seeds, the other waits and adopts.
        s.execute("LOCK TABLE " + TABLE + " IN EXCLUSIVE MODE");
      }
      Map<String, Stored> stored = read(c, -1);
      if (stored.isEmpty()) {
        for (Map.Entry<String, Path> file : shared().entrySet()) {
          byte[] content = readLocal(file.getValue());
          if (content != null) {
            seenUpdatedMs = Math.max(seenUpdatedMs, upsert(c, file.getKey(), content));
            synced.put(file.getKey(), content);
          }
        }
        c.commit();
        LOG.log(
            System.Logger.Level.INFO,
            "security files of {0} are now those every coordinator of the journal uses",
            files.dir());
        return false;
      }
      c.commit();
      return writeLocal(stored);
    } catch (SQLException | IOException | RuntimeException e) {
      try {
        c.rollback();
      } catch (SQLException rollback) {
        e.addSuppressed(rollback);
      }
      throw e;
    } finally {
      c.setAutoCommit(true);
    }
  }

  /** Takes what the leader changed since the last look (a standby, before it leads too). */
  public boolean pull() throws SQLException, IOException {
    Map<String, Stored> stored = read(db(), seenUpdatedMs);
    return !stored.isEmpty() && writeLocal(stored);
  }

  /** Writes back the files this coordinator changed (as the leader: tokens made or revoked). */
  public void push() throws SQLException, IOException {
    for (Map.Entry<String, Path> file : shared().entrySet()) {
      byte[] content = readLocal(file.getValue());
      if (content != null && !Arrays.equals(content, synced.get(file.getKey()))) {
        long stamp = upsert(db(), file.getKey(), content);
        synced.put(file.getKey(), content);
        seenUpdatedMs = Math.max(seenUpdatedMs, stamp);
        LOG.log(System.Logger.Level.INFO, "shared {0} with the journal", file.getKey());
      }
    }
  }

  private record Stored(byte[] content, long updatedMs) {}

  private static Map<String, Stored> read(Connection c, long after) throws SQLException {
    Map<String, Stored> stored = new HashMap<>();
    try (PreparedStatement q =
        c.prepareStatement(
            "SELECT name, content, updated_ms FROM " + TABLE + " WHERE updated_ms > ?")) {
      q.setLong(1, after);
      try (ResultSet rs = q.executeQuery()) {
        while (rs.next()) {
          stored.put(rs.getString(1), new Stored(rs.getBytes(2), rs.getLong(3)));
        }
      }
    }
    return stored;
  }

  /**
   * Stores a file, stamped by the database past every stamp it holds: the hosts' clocks may
   * disagree, and a change stamped behind what a standby has seen would never reach it. (One
   * coordinator writes at a time: the first under a table lock, then the leader.)
   */
  private static long upsert(Connection c, String name, byte[] content) throws SQLException {
    try (PreparedStatement u =
        c.prepareStatement(
            "INSERT INTO "
                + TABLE
                + " (name, content, updated_ms) VALUES (?, ?, GREATEST((SELECT"
                + " COALESCE(MAX(updated_ms), 0) + 1 FROM "
                + TABLE
                + "), (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint)) ON CONFLICT (name)"
                + " DO UPDATE SET content = EXCLUDED.content, updated_ms = EXCLUDED.updated_ms"
                + " RETURNING updated_ms")) {
      u.setString(1, name);
      u.setBytes(2, content);
      try (ResultSet rs = u.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private boolean writeLocal(Map<String, Stored> stored) throws IOException {
    boolean changed = false;
    Map<String, Path> paths = shared();
    files.create();
    try (SecurityFiles.Lock _ = files.lock()) {
      for (Map.Entry<String, Stored> entry : stored.entrySet()) {
        Path path = paths.get(entry.getKey());
        seenUpdatedMs = Math.max(seenUpdatedMs, entry.getValue().updatedMs());
        if (path == null) {
          continue; // a file a newer weft shares
        }
        byte[] content = entry.getValue().content();
        synced.put(entry.getKey(), content);
        if (!Arrays.equals(content, readLocal(path))) {
          files.write(path, new String(content, java.nio.charset.StandardCharsets.UTF_8));
          changed = true;
        }
      }
    }
    if (changed) {
      LOG.log(
          System.Logger.Level.INFO,
          "took the security files every coordinator of the journal uses into {0}",
          files.dir());
    }
    return changed;
  }

  private static byte[] readLocal(Path path) throws IOException {
    try {
      return Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  @Override
  public void close() {
    if (db != null) {
      try {
        db.close();
      } catch (SQLException e) {
        LOG.log(System.Logger.Level.DEBUG, "closing the shared files' connection failed", e);
      }
    }
  }
}
