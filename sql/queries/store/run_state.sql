-- Statements run by churndb.store.run_state: Scoring-run state: start, lock, fail, succeed, abandoned runs, history partitions.
-- Advisory lock key space 7301 = churndb scoring runs (second key: run_id).

-- name: fail_abandoned_runs
-- A 'running' run whose process no longer holds the run's advisory lock was killed: mark it failed.
UPDATE churndb.scoring_runs r
SET status = 'failed', finished_at = now(),
    error = 'abandoned: the process running it stopped before publishing (nothing of it was published)'
WHERE r.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM pg_locks l
                  WHERE l.locktype = 'advisory' AND l.classid = 7301 AND l.objid = r.run_id AND l.objsubid = 2
                    AND l.granted
                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
RETURNING run_id;

-- name: drop_abandoned_staging
-- Staged rows and never-attached history and targets tables of runs that ended without publishing (a run drops its
-- own when it ends; a killed coordinator's are left for this).
SELECT churndb.drop_run_staging(r.run_id)
FROM churndb.scoring_runs r
WHERE r.status <> 'running'
  AND (to_regclass(format('churndb.score_staging_r%s', r.run_id)) IS NOT NULL
       OR EXISTS (SELECT 1 FROM pg_class c
                  WHERE c.oid IN (to_regclass(format('churndb.score_history_r%s', r.run_id)),
                                  to_regclass(format('churndb.retention_targets_r%s', r.run_id)))
                    AND NOT c.relispartition));

-- name: start_run
INSERT INTO churndb.scoring_runs (model_version, policy_version, as_of_date, source, campaign_id, is_shadow, host, pid,
                                  executor)
VALUES (%(model_version)s, %(policy_version)s, %(as_of_date)s, %(source)s, %(campaign_id)s, %(is_shadow)s,
        %(host)s, %(pid)s, %(executor)s)
RETURNING run_id, started_at;

-- name: hold_run_lock
SELECT pg_advisory_lock(7301, %(run_id)s::int);

-- name: fail_run
UPDATE churndb.scoring_runs SET status = 'failed', finished_at = now(), error = %(error)s,
       stage_seconds = %(stage_seconds)s
WHERE run_id = %(run_id)s AND status = 'running';

-- name: succeed_run
UPDATE churndb.scoring_runs
SET status = 'succeeded', finished_at = clock_timestamp(), customers_scored = %(customers)s,
    targets = %(targets)s, partitions = %(partitions)s, stage_seconds = %(stage_seconds)s, summary = %(summary)s
WHERE run_id = %(run_id)s AND status = 'running'
RETURNING run_id;

-- name: ensure_partition
SELECT churndb.ensure_score_history_partition(%(at)s);

-- name: set_run_partitions
UPDATE churndb.scoring_runs SET partitions = %(partitions)s WHERE run_id = %(run_id)s;
