-- The domain controller each forest's connections of a run went to (issue 17: one DC per run),
-- as JSON: its URL, dnsHostName, dsServiceName and invocationId. Empty for runs before it.
ALTER TABLE runs ADD COLUMN source_dc TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN target_dc TEXT NOT NULL DEFAULT '';
