-- Statements run by jobs.runner: Scheduled jobs: advisory locks and job_runs.
-- Advisory lock key spaces 7302 and 7304 = churndb jobs: a running job holds both, each on its own
-- connection, so one dropped connection never frees the job for a second instance.

-- name: try_job_lock
SELECT pg_try_advisory_lock(%(space)s, hashtext(%(job)s));

-- name: lock_alive
-- A cheap round trip: is the connection that holds a job lock still there?
SELECT 1;

-- name: job_lock_holder
-- Who holds a job's lock: their backend's client address, application and process.
SELECT a.pid, a.application_name, coalesce(host(a.client_addr), 'local socket'), a.backend_start,
       (SELECT j.host || ':' || j.pid FROM churndb.job_runs j
        WHERE j.job = %(job)s AND j.status = 'running' ORDER BY j.started_at DESC LIMIT 1)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.classid IN (7302, 7304) AND l.objid = hashtext(%(job)s)::oid AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY l.classid LIMIT 1;

-- name: release_job_lock
SELECT pg_advisory_unlock(%(space)s, hashtext(%(job)s));

-- name: start_job_run
INSERT INTO churndb.job_runs (job, status, host, pid, details)
VALUES (%(job)s, %(status)s, %(host)s, %(pid)s, %(details)s)
RETURNING job_run_id;

-- name: finish_job_run
UPDATE churndb.job_runs SET status = %(status)s, finished_at = clock_timestamp(), error = %(error)s,
       details = %(details)s
WHERE job_run_id = %(job_run_id)s;

-- name: fail_abandoned_jobs
-- A 'running' job none of whose two locks anybody holds was killed: record it as failed.
UPDATE churndb.job_runs j SET status = 'failed', finished_at = now(),
       error = 'abandoned: the process running it stopped'
WHERE j.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid IN (7302, 7304)
                  AND l.objid = hashtext(j.job)::oid AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()));
