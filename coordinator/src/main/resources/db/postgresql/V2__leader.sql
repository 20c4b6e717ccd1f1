-- The leader among the coordinators that share this journal (LeaderElection). Whoever holds the
-- session-level advisory lock is the leader; on taking it, it raises epoch, and every journal
-- write checks that epoch is still its own, so a leader that lost the lock writes nothing more.
CREATE TABLE leader (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  epoch BIGINT NOT NULL,
  address TEXT NOT NULL DEFAULT '',
  coordinator TEXT NOT NULL DEFAULT '',
  since_ms BIGINT NOT NULL DEFAULT 0
);
INSERT INTO leader (id, epoch) VALUES (1, 0);

-- Files of the security directory that every coordinator of the journal must share (the CA,
-- the join secret, client tokens, revoked secrets), so tokens stay valid across a takeover.
CREATE TABLE shared_files (
  name TEXT PRIMARY KEY,
  content BYTEA NOT NULL,
  updated_ms BIGINT NOT NULL
);
