//! The bookkeeping database: `ROOT/kao.db`, SQLite in WAL mode with `synchronous=FULL`,
//! so a committed transaction (an acknowledged upload, a tag, a queued training) survives
//! a crash of the process or the machine.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{DbContext, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    domain_id TEXT NOT NULL,
    classification_type TEXT NOT NULL,
    store_predictions INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    type TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tags_name ON tags(project_id, name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS images (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    content_id TEXT NOT NULL,
    ext TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    source TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS images_content ON images(project_id, content_id);
CREATE INDEX IF NOT EXISTS images_project ON images(project_id, seq);
CREATE TABLE IF NOT EXISTS image_tags (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    PRIMARY KEY (image_id, tag_id)
);
CREATE INDEX IF NOT EXISTS image_tags_tag ON image_tags(tag_id);
CREATE TABLE IF NOT EXISTS iterations (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    trained_at TEXT,
    training_seconds REAL,
    number INTEGER,
    signature TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    progress TEXT,
    publish_name TEXT,
    prediction_resource_id TEXT
);
CREATE TABLE IF NOT EXISTS predictions (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    iteration_id TEXT NOT NULL,
    file TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    result TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_project ON predictions(project_id, seq);
";

/// Opens (creating) the database and its tables.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).db(path)?;
    // WAL: readers never block the writer; FULL: every commit is fsync'd before it returns.
    conn.pragma_update(None, "journal_mode", "WAL").db(path)?;
    conn.pragma_update(None, "synchronous", "FULL").db(path)?;
    conn.pragma_update(None, "foreign_keys", "ON").db(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .db(path)?;
    conn.execute_batch(SCHEMA).db(path)?;
    Ok(conn)
}
