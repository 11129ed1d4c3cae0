-- +goose Up
-- Attendees bound to accounts. An event's attendees (usernames or emails,
-- the seed's events.attendees) are resolved to user ids when the event is
-- written, and only those users may read it: a user who later takes an
-- unused username, or sets an attendee's email on their own account,
-- gains nothing. Addresses of people without an account stay in
-- events.attendees (the calendar feed lists them) and grant no access.
CREATE TABLE event_attendees (
  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (event_id, user_id)
);
CREATE INDEX idx_event_attendees_user ON event_attendees(user_id, event_id);

-- Existing events: bind the names as they resolve today.
INSERT INTO event_attendees (event_id, user_id)
SELECT DISTINCT e.id, u.id
FROM events e CROSS JOIN LATERAL unnest(e.attendees) AS a(name)
JOIN users u ON lower(u.username) = lower(a.name) OR lower(u.email) = lower(a.name);
