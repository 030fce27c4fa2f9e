-- One instance at a time: a named lock with its holder and a heartbeat.
CREATE TABLE locks (
	name      TEXT PRIMARY KEY,
	holder    TEXT NOT NULL,
	since     TEXT NOT NULL,
	heartbeat TEXT NOT NULL
);
