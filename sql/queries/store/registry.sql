-- Statements run by churndb.store.registry: The model registry: versions, signed artifacts, status changes, deployments.

-- name: next_model_version
SELECT nextval(pg_get_serial_sequence('churndb.model_versions', 'model_version'))::int;

-- name: insert_model_version
INSERT INTO churndb.model_versions
    (model_version, status, spec, feature_spec, training, metrics, library_versions,
     artifact, artifact_sha256, artifact_signature)
OVERRIDING SYSTEM VALUE
VALUES (%(model_version)s, 'candidate', %(spec)s, %(feature_spec)s, %(training)s, %(metrics)s,
        %(library_versions)s, %(artifact)s, %(artifact_sha256)s, %(artifact_signature)s);

-- name: model_artifact
SELECT model_version, artifact, artifact_sha256, artifact_signature
FROM churndb.model_versions WHERE model_version = %(model_version)s;

-- name: champion_version
-- One champion per source and kind (churn / uplift; both come from the model's spec).
SELECT model_version FROM churndb.model_versions
WHERE status = 'champion' AND source = %(source)s AND kind = %(kind)s;

-- name: list_models
SELECT model_version, status, created_at, promoted_at,
       (metrics ->> 'auc')::float8 AS auc, (metrics ->> 'brier')::float8 AS brier,
       (metrics ->> 'ece')::float8 AS ece, training ->> 'source' AS source,
       (training ->> 'rows_train')::int AS rows_train, artifact_sha256, kind
FROM churndb.model_versions
ORDER BY model_version;

-- name: show_model
SELECT model_version, status, kind, spec, feature_spec, training, metrics, library_versions,
       artifact_sha256, created_at, created_by, promoted_at, promoted_by, octet_length(artifact) AS artifact_bytes
FROM churndb.model_versions WHERE model_version = %(model_version)s;

-- name: lock_models
-- Promotions and rollbacks serialise on the registry.
LOCK TABLE churndb.model_versions IN SHARE ROW EXCLUSIVE MODE;

-- name: model_status
SELECT status, source, kind FROM churndb.model_versions WHERE model_version = %(model_version)s;

-- name: set_model_status
UPDATE churndb.model_versions SET status = %(status)s WHERE model_version = %(model_version)s;

-- name: crown_model
UPDATE churndb.model_versions SET status = 'champion', promoted_at = now(), promoted_by = %(actor)s
WHERE model_version = %(model_version)s;

-- name: record_deployment
INSERT INTO churndb.model_deployments (action, from_version, to_version, reason, actor, details)
VALUES (%(action)s, %(from_version)s, %(to_version)s, %(reason)s, %(actor)s, %(details)s)
RETURNING deployment_id, deployed_at;

-- name: previous_champion
-- The champion before the current one: walk back past rollbacks to the last promotion into the current champion.
SELECT from_version
FROM churndb.model_deployments
WHERE to_version = %(current)s AND action = 'promote' AND from_version IS NOT NULL
ORDER BY deployment_id DESC LIMIT 1;

-- name: champion_at
-- Which model was champion of a source at a point in time.
SELECT d.to_version FROM churndb.model_deployments d
JOIN churndb.model_versions m ON m.model_version = d.to_version
WHERE d.deployed_at <= %(at)s AND m.source = %(source)s AND m.kind = 'churn'
ORDER BY d.deployed_at DESC, d.deployment_id DESC LIMIT 1;

-- name: record_training_decision
UPDATE churndb.model_versions
SET training = training || jsonb_build_object('promotion_decision', %(decision)s::jsonb)
WHERE model_version = %(model_version)s;

-- name: model_baseline
-- The training distribution of each input column (bins and shares), for drift counts.
SELECT coalesce(feature_spec -> 'baseline', '{}'::jsonb) FROM churndb.model_versions
WHERE model_version = %(model_version)s;
