-- A new store, every table at once (chatcli.store.sqlite._create). Written by tests/store_script.py: never by hand.
CREATE TABLE checkpoints (
                    thread_id TEXT NOT NULL,
                    checkpoint_ns TEXT NOT NULL DEFAULT '',
                    checkpoint_id TEXT NOT NULL,
                    parent_checkpoint_id TEXT,
                    type TEXT,
                    checkpoint BLOB,
                    metadata BLOB,
                    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
                );
CREATE TABLE writes (
                    thread_id TEXT NOT NULL,
                    checkpoint_ns TEXT NOT NULL DEFAULT '',
                    checkpoint_id TEXT NOT NULL,
                    task_id TEXT NOT NULL,
                    task_path TEXT NOT NULL DEFAULT '',
                    idx INTEGER NOT NULL,
                    channel TEXT NOT NULL,
                    type TEXT,
                    value BLOB,
                    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
                );
CREATE TABLE chatcli_messages (
            node INTEGER PRIMARY KEY, thread_id TEXT NOT NULL, parent INTEGER NULL, pos INTEGER NOT NULL, type TEXT,
            blob BLOB, role TEXT, text TEXT, created_at REAL);
CREATE INDEX chatcli_messages_thread ON chatcli_messages(thread_id);
CREATE TABLE chatcli_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);
CREATE TABLE chatcli_threads (
            thread_id TEXT PRIMARY KEY,
            title TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            message_count INTEGER NOT NULL DEFAULT 0,
            model TEXT
        , cwd TEXT, dirs TEXT);
CREATE INDEX chatcli_threads_updated ON chatcli_threads(updated_at);
CREATE VIRTUAL TABLE chatcli_search USING fts5(
                text, content='chatcli_messages', content_rowid='node');
CREATE TRIGGER chatcli_search_insert AFTER INSERT ON chatcli_messages BEGIN
                INSERT INTO chatcli_search(rowid, text) VALUES (new.node, new.text);
            END;
CREATE TRIGGER chatcli_search_delete AFTER DELETE ON chatcli_messages BEGIN
                INSERT INTO chatcli_search(chatcli_search, rowid, text) VALUES ('delete', old.node, old.text);
            END;
CREATE TABLE chatcli_bindings (thread_id TEXT PRIMARY KEY, binding TEXT NOT NULL);
CREATE TABLE chatcli_labels (
            thread_id TEXT NOT NULL, label TEXT NOT NULL, node INTEGER NOT NULL, PRIMARY KEY (thread_id, label));
CREATE TABLE chatcli_spending (
                id INTEGER PRIMARY KEY, thread_id TEXT NOT NULL, at REAL NOT NULL, usd REAL NOT NULL,
                held INTEGER NOT NULL DEFAULT 0);
CREATE INDEX chatcli_spending_at ON chatcli_spending (at);
CREATE INDEX chatcli_spending_thread ON chatcli_spending (thread_id);
CREATE TABLE chatcli_waiting (
            thread_id TEXT PRIMARY KEY, since DOUBLE PRECISION NOT NULL, asked TEXT NOT NULL);
CREATE TABLE store_migrations (
                    v INTEGER PRIMARY KEY
                );
CREATE TABLE store (
    -- 'prefix' represents the doc's 'namespace'
    prefix text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, expires_at TIMESTAMP, ttl_minutes REAL,
    PRIMARY KEY (prefix, key)
);
CREATE INDEX store_prefix_idx ON store (prefix);
CREATE INDEX idx_store_expires_at ON store (expires_at)
WHERE expires_at IS NOT NULL;
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m001_base', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m002_threads', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m003_search', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m004_bindings', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m005_places', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m006_labels', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m007_spending', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO chatcli_migrations (name, applied_at) VALUES ('m008_waiting', (julianday('now') - 2440587.5) * 86400.0);
INSERT INTO store_migrations (v) VALUES (0);
INSERT INTO store_migrations (v) VALUES (1);
INSERT INTO store_migrations (v) VALUES (2);
INSERT INTO store_migrations (v) VALUES (3);
INSERT INTO store_migrations (v) VALUES (4);
PRAGMA user_version = 8;
