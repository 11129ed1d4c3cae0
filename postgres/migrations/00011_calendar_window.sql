-- +goose Up
-- A calendar range query found the reader's events through the owner and
-- attendee indexes and then read every one of them to test its times: a
-- row lookup per event the reader ever owned or attended, for every month
-- viewed. Both indexes now carry the times (and the id, for index-only
-- scans), so the range is tested inside them and only the events in it
-- are read. An attendee row copies its event's times; the store keeps the
-- copy in the event's own transaction (bindAttendees,
-- UpdateCalendarEvent). end_time leads start_time: a range scan of
-- end_time > from covers the window and the events after it, which for
-- the months people look at (around now) is few, where start_time < to
-- would cover the reader's whole past.
ALTER TABLE event_attendees ADD COLUMN start_time TIMESTAMP, ADD COLUMN end_time TIMESTAMP;
UPDATE event_attendees a SET start_time = e.start_time, end_time = e.end_time FROM events e WHERE e.id = a.event_id;
ALTER TABLE event_attendees ALTER COLUMN start_time SET NOT NULL, ALTER COLUMN end_time SET NOT NULL;
DROP INDEX idx_event_attendees_user;
CREATE INDEX idx_event_attendees_user_window ON event_attendees (user_id, end_time, start_time, event_id);
CREATE INDEX idx_events_user_window ON events (user_id, end_time, start_time, id);
