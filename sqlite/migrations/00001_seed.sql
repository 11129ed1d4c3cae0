-- +goose Up
-- The seed's schema translated to SQLite: same tables, columns, constraint,
-- index and view names. Differences forced by SQLite:
--   SERIAL -> INTEGER PRIMARY KEY AUTOINCREMENT (ids are never reused);
--   TIMESTAMP -> TEXT 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (sorts correctly);
--   BOOLEAN -> INTEGER 0/1; JSONB and TEXT[] -> TEXT holding JSON;
--   INET -> TEXT; the email regex CHECK -> a LIKE approximation (the API
--   validates the seed's exact regex on both engines).

CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username VARCHAR(255) UNIQUE NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  email VARCHAR(255) UNIQUE,
  created_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  last_login TEXT,
  CONSTRAINT username_length CHECK (LENGTH(username) >= 3),
  CONSTRAINT email_format CHECK (email IS NULL OR email LIKE '%_@_%._%')
);

CREATE INDEX idx_users_username ON users(username);
CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_created ON users(created_at DESC);

CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  conversation_id VARCHAR(255),
  text TEXT NOT NULL,
  is_read BOOLEAN DEFAULT FALSE,
  created_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  deleted_at TEXT,
  CONSTRAINT text_length CHECK (LENGTH(text) > 0)
);

CREATE INDEX idx_messages_user ON messages(user_id);
CREATE INDEX idx_messages_conversation ON messages(conversation_id);
CREATE INDEX idx_messages_created ON messages(created_at DESC);
CREATE INDEX idx_messages_is_read ON messages(is_read) WHERE NOT is_read;

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title VARCHAR(255) NOT NULL,
  description TEXT,
  start_time TEXT NOT NULL,
  end_time TEXT NOT NULL,
  location VARCHAR(255),
  attendees TEXT CHECK (attendees IS NULL OR json_valid(attendees)),
  created_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  deleted_at TEXT,
  CONSTRAINT title_length CHECK (LENGTH(title) > 0),
  CONSTRAINT end_after_start CHECK (end_time > start_time)
);

CREATE INDEX idx_events_user ON events(user_id);
CREATE INDEX idx_events_start_time ON events(start_time);
CREATE INDEX idx_events_date_range ON events(start_time, end_time);
CREATE INDEX idx_events_deleted ON events(deleted_at) WHERE deleted_at IS NULL;

CREATE TABLE activity_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  action VARCHAR(255) NOT NULL,
  metadata TEXT CHECK (metadata IS NULL OR json_valid(metadata)),
  ip_address TEXT,
  user_agent TEXT,
  created_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  CONSTRAINT action_length CHECK (LENGTH(action) > 0)
);

CREATE INDEX idx_activity_logs_user ON activity_logs(user_id);
CREATE INDEX idx_activity_logs_action ON activity_logs(action);
CREATE INDEX idx_activity_logs_created ON activity_logs(created_at DESC);
-- The seed's GIN index on metadata has no SQLite equivalent; containment
-- filters use json_extract on the rows the other filters select.

CREATE TABLE lots (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id),
  status VARCHAR(50) NOT NULL,
  item_count INTEGER NOT NULL,
  description TEXT,
  received_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  processed_at TEXT,
  created_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  CONSTRAINT item_count_positive CHECK (item_count > 0),
  CONSTRAINT status_valid CHECK (status IN ('received', 'processing', 'completed', 'rejected'))
);

CREATE INDEX idx_lots_user ON lots(user_id);
CREATE INDEX idx_lots_status ON lots(status);
CREATE INDEX idx_lots_received ON lots(received_at DESC);

CREATE TABLE shortcuts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name VARCHAR(255) NOT NULL,
  description TEXT,
  icon VARCHAR(100),
  action_type VARCHAR(100),
  action_data TEXT CHECK (action_data IS NULL OR json_valid(action_data)),
  order_index INTEGER,
  created_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  updated_at TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
  CONSTRAINT name_length CHECK (LENGTH(name) > 0)
);

CREATE INDEX idx_shortcuts_user ON shortcuts(user_id);
CREATE INDEX idx_shortcuts_order ON shortcuts(user_id, order_index);

-- Views: the seed's, with SQLite's date arithmetic on the text timestamps.
CREATE VIEW active_users AS
  SELECT * FROM users WHERE last_login > strftime('%Y-%m-%d %H:%M:%f000', 'now', '-7 days');

CREATE VIEW recent_messages AS
  SELECT * FROM messages WHERE created_at > strftime('%Y-%m-%d %H:%M:%f000', 'now', '-24 hours');

CREATE VIEW pending_events AS
  SELECT * FROM events WHERE start_time > strftime('%Y-%m-%d %H:%M:%f000', 'now') AND deleted_at IS NULL;
