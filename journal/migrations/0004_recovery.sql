-- Crash recovery and rollback by identity.
-- A run records the process that runs it (host, pid), so a later command can tell that a run
-- left 'running' belongs to a process that is gone (outcome 'crashed').
ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;

-- A lock records its holder's host and pid: a holder gone on this host is taken over at once.
ALTER TABLE locks ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE locks ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;

-- Two statuses more: 'unknown' (the connection dropped after the write was sent) and
-- 'not_applied' (a pending or unknown write that the directory shows did not happen).
-- resolution says how a pending or unknown change was resolved against the directory, and
-- when; SQLite cannot alter a CHECK constraint, so the table is rebuilt.
CREATE TABLE changes_new (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id      INTEGER NOT NULL REFERENCES runs (id),
	object_guid TEXT    NOT NULL DEFAULT '',
	key         TEXT    NOT NULL DEFAULT '',
	dn          TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	attrs       TEXT    NOT NULL,
	intent_at   TEXT    NOT NULL,
	outcome_at  TEXT,
	status      TEXT    NOT NULL CHECK (status IN ('pending', 'applied', 'failed', 'unknown', 'not_applied')),
	error       TEXT    NOT NULL DEFAULT '',
	forest      TEXT    NOT NULL DEFAULT 'target',
	resolution  TEXT    NOT NULL DEFAULT ''
);
INSERT INTO changes_new (id, run_id, object_guid, key, dn, action, attrs, intent_at, outcome_at, status, error, forest)
	SELECT id, run_id, object_guid, key, dn, action, attrs, intent_at, outcome_at,
		CASE WHEN status = 'failed' AND error LIKE '%outcome unknown:%' THEN 'unknown' ELSE status END,
		error, forest
	FROM changes;
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
CREATE INDEX changes_run_id ON changes (run_id);
CREATE INDEX changes_dn ON changes (dn);
-- What recovery looks at: writes whose outcome is not known, and creates whose objectGUID
-- was never read back (a crash between the add and the chunk's GUID search).
CREATE INDEX changes_unresolved ON changes (run_id)
	WHERE resolution = '' AND (status IN ('pending', 'unknown') OR (status = 'applied' AND action = 'create' AND object_guid = ''));
