-- Initial journal schema: runs, the changes each run makes, and sync cursors.
-- Times are fixed-width RFC3339 (nanosecond) UTC text, so they sort lexically.

CREATE TABLE runs (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	kind          TEXT    NOT NULL,
	mode          TEXT    NOT NULL,
	actor         TEXT    NOT NULL DEFAULT '',
	config_hash   TEXT    NOT NULL DEFAULT '',
	plan_hash     TEXT    NOT NULL DEFAULT '',
	summary       TEXT,
	started_at    TEXT    NOT NULL,
	finished_at   TEXT,
	outcome       TEXT    NOT NULL,
	error         TEXT    NOT NULL DEFAULT '',
	parent_run_id INTEGER REFERENCES runs (id)
);

CREATE TABLE changes (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id      INTEGER NOT NULL REFERENCES runs (id),
	object_guid TEXT    NOT NULL DEFAULT '',
	key         TEXT    NOT NULL DEFAULT '',
	dn          TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	attrs       TEXT    NOT NULL,
	intent_at   TEXT    NOT NULL,
	outcome_at  TEXT,
	status      TEXT    NOT NULL CHECK (status IN ('pending', 'applied', 'failed')),
	error       TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX changes_run_id ON changes (run_id);
CREATE INDEX changes_dn ON changes (dn);

CREATE TABLE cursors (
	source     TEXT PRIMARY KEY,
	cookie     BLOB,
	updated_at TEXT NOT NULL
);
