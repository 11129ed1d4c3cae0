package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"workspace"
)

// FeedInput is the secret token of a calendar feed.
type FeedInput struct {
	Token string `path:"token" maxLength:"64" doc:"The token from POST /api/v1/calendar/feed, optionally ending in .ics."`
}

// FeedCalendarOutput is an iCalendar document.
type FeedCalendarOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

// feedWindow bounds the events a feed carries: calendar apps poll it.
const (
	feedPast   = 180 * 24 * time.Hour
	feedEvents = 2000
)

// handleCalendarFeed serves the iCalendar (RFC 5545) feed of the events a
// user owns or attends. Calendar apps cannot send a bearer header, so the
// URL's secret token authenticates; the user can rotate it.
func (s *Server) handleCalendarFeed(ctx context.Context, in *FeedInput) (*FeedCalendarOutput, error) {
	token := strings.TrimSuffix(in.Token, ".ics")
	sum := sha256.Sum256([]byte(token))
	u, err := s.Store.FindUserByCalendarFeedToken(ctx, sum[:])
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	from := time.Now().UTC().Add(-feedPast)
	var events []*workspace.CalendarEvent
	cursor := ""
	for len(events) < feedEvents {
		page, next, err := s.Store.FindCalendarEvents(ctx, u.ID, workspace.CalendarEventFilter{From: &from, Cursor: cursor, Limit: workspace.MaxPageSize})
		if err != nil {
			return nil, s.Error(ctx, err)
		}
		events = append(events, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	body, err := encodeICalendar(events)
	if err != nil {
		return nil, s.Error(ctx, err)
	}
	return &FeedCalendarOutput{ContentType: "text/calendar; charset=utf-8", Body: body}, nil
}

// attendeeURI is the calendar address of an attendee: mailto: for an
// email, a workspace URN for a username (CN carries the name either way).
func attendeeURI(a string) string {
	if strings.Contains(a, "@") {
		return "mailto:" + a
	}
	return "urn:x-workspace:user:" + a
}

func encodeICalendar(events []*workspace.CalendarEvent) ([]byte, error) {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//Workspace//Calendar//EN")
	cal.Props.SetText("X-WR-CALNAME", "Workspace")
	for _, e := range events {
		ev := ical.NewEvent()
		ev.Props.SetText(ical.PropUID, fmt.Sprintf("event-%d@workspace", e.ID))
		ev.Props.SetDateTime(ical.PropDateTimeStamp, e.UpdatedAt.UTC())
		ev.Props.SetDateTime(ical.PropDateTimeStart, e.StartTime.UTC())
		ev.Props.SetDateTime(ical.PropDateTimeEnd, e.EndTime.UTC())
		ev.Props.SetText(ical.PropSummary, e.Title)
		if e.Description != nil {
			ev.Props.SetText(ical.PropDescription, *e.Description)
		}
		if e.Location != nil {
			ev.Props.SetText(ical.PropLocation, *e.Location)
		}
		for _, a := range e.Attendees {
			p := ical.NewProp(ical.PropAttendee)
			p.Value = attendeeURI(a)
			p.Params.Set(ical.ParamCommonName, a)
			ev.Props.Add(p)
		}
		cal.Children = append(cal.Children, ev.Component)
	}
	if len(events) == 0 {
		// RFC 5545 wants at least one component: an empty feed carries the
		// (unused) UTC time zone, so calendar apps still accept it.
		cal.Children = append(cal.Children, utcTimezone())
	}
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, fmt.Errorf("encode icalendar: %w", err)
	}
	return buf.Bytes(), nil
}

func utcTimezone() *ical.Component {
	std := ical.NewComponent(ical.CompTimezoneStandard)
	std.Props.SetText(ical.PropDateTimeStart, "19700101T000000")
	std.Props.SetText(ical.PropTimezoneOffsetFrom, "+0000")
	std.Props.SetText(ical.PropTimezoneOffsetTo, "+0000")
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, "UTC")
	tz.Children = append(tz.Children, std)
	return tz
}
