-- The coordinator's journal (PostgresJournal), in schema weft. Binary columns hold protobuf
-- messages: a job's spec, its final state, a batch of task results (ResultBatch), a task failure.
-- The tables are those of the SQLite journal (JournalTables), with seq giving the order rowid gives
-- there.

-- Every job: its spec and progress while it runs; its final state once it finished.
CREATE TABLE jobs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  spec BYTEA NOT NULL,
  tasks INTEGER NOT NULL,
  created_ms BIGINT NOT NULL,
  started_ms BIGINT NOT NULL DEFAULT 0,
  stop_target INTEGER NOT NULL DEFAULT 0,
  stop_reason TEXT NOT NULL DEFAULT '',
  finished_ms BIGINT,
  final BYTEA
);
CREATE INDEX jobs_finished ON jobs (finished_ms) WHERE finished_ms IS NOT NULL;

-- An unfinished job's recorded task results, one row per group commit.
CREATE TABLE results (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id TEXT NOT NULL,
  batch BYTEA NOT NULL
);
CREATE INDEX results_job ON results (job_id);

-- An unfinished job's failed attempts of tasks that were to run again.
CREATE TABLE retries (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id TEXT NOT NULL,
  task INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  retry_at_ms BIGINT NOT NULL,
  failure BYTEA NOT NULL
);
CREATE INDEX retries_job ON retries (job_id);
