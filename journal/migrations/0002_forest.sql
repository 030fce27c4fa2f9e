-- Cutover and rollback write to both forests: each change records which one.
ALTER TABLE changes ADD COLUMN forest TEXT NOT NULL DEFAULT 'target';
