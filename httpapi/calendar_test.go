package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

func TestEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		a := h.signup("alice")
		b := h.signup("bob")
		c := h.signup("carol")
		h.do("PATCH", "/api/v1/auth/me", c.Access, map[string]any{"email": "carol@example.com"}).want(t, 200)

		start := time.Date(2030, 5, 1, 9, 0, 0, 0, time.FixedZone("CEST", 2*3600))
		body := map[string]any{"title": "Planning", "start_time": start.Format(time.RFC3339), "end_time": start.Add(time.Hour).Format(time.RFC3339),
			"location": "Room 1", "attendees": []string{"bob"}}
		e := h.do("POST", "/api/v1/events", a.Access, body).want(t, 201).JSON()
		path := fmt.Sprintf("/api/v1/events/%d", int(e["id"].(float64)))
		if e["start_time"] != "2030-05-01T07:00:00Z" {
			t.Fatalf("start stored as %v, want UTC", e["start_time"])
		}

		// Ensure attendees read, strangers get 404, only the owner writes.
		h.do("GET", path, b.Access, nil).want(t, 200)
		h.do("GET", path, c.Access, nil).want(t, 404)
		h.do("PATCH", path, b.Access, map[string]any{"title": "mine now"}).want(t, 404)
		h.do("DELETE", path, b.Access, nil).want(t, 404)
		h.do("PATCH", path, a.Access, map[string]any{"attendees": []string{"bob", "CAROL@example.com"}}).want(t, 200)
		h.do("GET", path, c.Access, nil).want(t, 200)

		// Ensure the seed's CHECKs and read-only fields are field-level 400s.
		for name, bad := range map[string]map[string]any{
			"EmptyTitle":   {"title": "", "start_time": body["start_time"], "end_time": body["end_time"]},
			"EndAtStart":   {"title": "x", "start_time": body["start_time"], "end_time": body["start_time"]},
			"EndBefore":    {"title": "x", "start_time": body["end_time"], "end_time": body["start_time"]},
			"BadTime":      {"title": "x", "start_time": "tomorrow", "end_time": body["end_time"]},
			"ReadOnlyID":   {"id": 5, "title": "x", "start_time": body["start_time"], "end_time": body["end_time"]},
			"ReadOnlyUser": {"user_id": b.ID, "title": "x", "start_time": body["start_time"], "end_time": body["end_time"]},
		} {
			r := h.do("POST", "/api/v1/events", a.Access, bad)
			if r.Status != 400 || len(fieldNames(r)) == 0 {
				t.Fatalf("%s: %d %s", name, r.Status, r)
			}
		}
		h.do("PATCH", path, a.Access, map[string]any{"end_time": start.Add(-time.Hour).Format(time.RFC3339)}).want(t, 400)

		// Ensure range queries and the pending view through the API.
		day := start.UTC().Truncate(24 * time.Hour)
		q := fmt.Sprintf("/api/v1/events?from=%s&to=%s", day.Format(time.RFC3339), day.Add(24*time.Hour).Format(time.RFC3339))
		if list := h.do("GET", q, c.Access, nil).want(t, 200).JSON()["events"].([]any); len(list) != 1 {
			t.Fatalf("carol's range = %v", list)
		}
		q = fmt.Sprintf("/api/v1/events?from=%s&to=%s", day.Add(24*time.Hour).Format(time.RFC3339), day.Add(48*time.Hour).Format(time.RFC3339))
		if list := h.do("GET", q, a.Access, nil).want(t, 200).JSON()["events"].([]any); len(list) != 0 {
			t.Fatalf("next day = %v", list)
		}
		h.do("GET", "/api/v1/events?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", a.Access, nil).want(t, 400)
		if list := h.do("GET", "/api/v1/events/pending", b.Access, nil).want(t, 200).JSON()["events"].([]any); len(list) != 1 {
			t.Fatalf("bob's pending = %v", list)
		}
		h.do("DELETE", path, a.Access, nil).want(t, 204)
		h.do("GET", path, a.Access, nil).want(t, 404)
	})
}

// Ensure the iCalendar feed, read with an independent iCalendar parser,
// round-trips titles, times, locations and attendees; it is reachable by
// its secret URL only, and rotation retires the old URL.
func TestCalendarFeed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open engineOpener) {
		h := newHarness(t, open(t))
		a := h.signup("alice")
		b := h.signup("bob")
		start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
		events := []map[string]any{
			{"title": "Inventaire, dépôt; \"B\"", "location": "Quai 3, Lyon", "description": "line one\nline two",
				"attendees": []string{"bob", "vendor@example.com"}},
			{"title": "Solo"},
		}
		for i, e := range events {
			e["start_time"] = start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)
			e["end_time"] = start.Add(time.Duration(i)*time.Hour + 30*time.Minute).Format(time.RFC3339)
			h.do("POST", "/api/v1/events", a.Access, e).want(t, 201)
		}
		feed := h.do("POST", "/api/v1/calendar/feed", a.Access, nil).want(t, 200).JSON()
		url := feed["url"].(string)
		r := h.do("GET", url, "", nil).want(t, 200)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
			t.Fatalf("Content-Type = %q", ct)
		}
		cal, err := ics.ParseCalendar(strings.NewReader(r.String()))
		if err != nil {
			t.Fatalf("parse feed: %v\n%s", err, r)
		}
		got := cal.Events()
		if len(got) != 2 {
			t.Fatalf("feed has %d events:\n%s", len(got), r)
		}
		for i, ev := range got {
			want := events[i]
			if s := ev.GetProperty(ics.ComponentPropertySummary); s == nil || s.Value != want["title"] {
				t.Errorf("summary %d = %v, want %v", i, s, want["title"])
			}
			st, err := ev.GetStartAt()
			if err != nil || !st.Equal(start.Add(time.Duration(i)*time.Hour)) {
				t.Errorf("start %d = %v (%v)", i, st, err)
			}
			en, err := ev.GetEndAt()
			if err != nil || !en.Equal(start.Add(time.Duration(i)*time.Hour+30*time.Minute)) {
				t.Errorf("end %d = %v (%v)", i, en, err)
			}
			if loc, ok := want["location"]; ok {
				if p := ev.GetProperty(ics.ComponentPropertyLocation); p == nil || p.Value != loc {
					t.Errorf("location = %v, want %v", p, loc)
				}
				if p := ev.GetProperty(ics.ComponentPropertyDescription); p == nil || p.Value != want["description"] {
					t.Errorf("description = %v", p)
				}
				var attendees []string
				for _, at := range ev.Attendees() {
					attendees = append(attendees, at.ICalParameters["CN"][0])
				}
				slices.Sort(attendees)
				if fmt.Sprint(attendees) != "[bob vendor@example.com]" {
					t.Errorf("attendees = %v", attendees)
				}
			}
		}
		// Bob's own feed holds the event he attends.
		bf := h.do("POST", "/api/v1/calendar/feed", b.Access, nil).want(t, 200).JSON()
		if r := h.do("GET", bf["url"].(string), "", nil).want(t, 200); !strings.Contains(r.String(), "Inventaire") || strings.Contains(r.String(), "Solo") {
			t.Fatalf("bob's feed:\n%s", r)
		}
		// Rotation retires the old URL; unknown tokens are 404.
		h.do("POST", "/api/v1/calendar/feed", a.Access, nil).want(t, 200)
		h.do("GET", url, "", nil).want(t, 404)
		h.do("GET", "/api/v1/calendar/feeds/nope.ics", "", nil).want(t, 404)
	})
}
