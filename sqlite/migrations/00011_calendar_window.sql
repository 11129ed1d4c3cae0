-- +goose Up
-- A calendar range query found the reader's events through the owner and
-- attendee indexes and then read every one of them to test its times: a
-- row lookup per event the reader ever owned or attended, for every month
-- viewed. Both indexes now carry the times, so the range is tested inside
-- them and only the events in it are read. An attendee row copies its
-- event's times; the store keeps the copy in the event's own transaction
-- (bindAttendees, UpdateCalendarEvent). end_time leads start_time: a range
-- scan of end_time > from covers the window and the events after it, which
-- for the months people look at (around now) is few, where start_time <
-- to would cover the reader's whole past. See the PostgreSQL migration of
-- the same name.
ALTER TABLE event_attendees ADD COLUMN start_time TEXT;
ALTER TABLE event_attendees ADD COLUMN end_time TEXT;
UPDATE event_attendees SET
  start_time = (SELECT e.start_time FROM events e WHERE e.id = event_attendees.event_id),
  end_time = (SELECT e.end_time FROM events e WHERE e.id = event_attendees.event_id);
DROP INDEX idx_event_attendees_user;
CREATE INDEX idx_event_attendees_user_window ON event_attendees (user_id, end_time, start_time, event_id);
CREATE INDEX idx_events_user_window ON events (user_id, end_time, start_time);
