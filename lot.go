package workspace

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// LotStatus is where a lot is in the goods-receiving workflow (the seed's
// status_valid CHECK).
type LotStatus string

// The statuses of a lot, in workflow order.
const (
	LotReceived   LotStatus = "received"
	LotProcessing LotStatus = "processing"
	LotCompleted  LotStatus = "completed"
	LotRejected   LotStatus = "rejected"
)

// LotStatuses lists every status in workflow order.
var LotStatuses = []LotStatus{LotReceived, LotProcessing, LotCompleted, LotRejected}

// lotTransitions is the status machine: the statuses a lot in each status
// may move to. completed and rejected are final.
var lotTransitions = map[LotStatus][]LotStatus{
	LotReceived:   {LotProcessing, LotRejected},
	LotProcessing: {LotCompleted, LotRejected},
	LotCompleted:  nil,
	LotRejected:   nil,
}

// Valid reports whether s is one of LotStatuses.
func (s LotStatus) Valid() bool {
	_, ok := lotTransitions[s]
	return ok
}

// Final reports whether s ends the workflow; processed_at is set when a lot
// reaches it.
func (s LotStatus) Final() bool { return s == LotCompleted || s == LotRejected }

// Lot is one delivery of goods (the seed's lots table). UserID is who
// received it.
type Lot struct {
	ID          int        `json:"id"`
	UserID      int        `json:"user_id"`
	Status      LotStatus  `json:"status"`
	ItemCount   int        `json:"item_count"`
	Description *string    `json:"description"`
	ReceivedAt  time.Time  `json:"received_at"`
	ProcessedAt *time.Time `json:"processed_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Limits of the lots table: item_count is an INTEGER and must be positive
// (the seed's item_count_positive CHECK); the description is TEXT, bounded
// by the API so a single lot cannot hold megabytes.
const (
	MaxItemCount         = math.MaxInt32
	MaxLotDescriptionLen = 10000
)

// Audit actions of lots.
const (
	ActionLotCreate       = "lot.create"
	ActionLotStatusChange = "lot.status_change"
	ActionLotUpdate       = "lot.update"
	ActionLotDelete       = "lot.delete"
)

// validateBoundedText checks a free-text field: valid UTF-8, no NUL (which
// PostgreSQL's TEXT refuses, so both engines must) and at most max
// characters.
func validateBoundedText(v *Validation, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case strings.ContainsRune(s, 0):
		v.Add(field, "must not contain NUL characters")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most %d characters", max)
	}
}

// validateStorableTime refuses times that a TIMESTAMP column (and the
// fixed-width SQLite text form) cannot hold.
func validateStorableTime(v *Validation, field string, t time.Time) {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		v.Add(field, "must be between years 1 and 9999")
	}
}

func validateItemCount(v *Validation, n int) {
	switch {
	case n <= 0:
		v.Add("item_count", "must be greater than 0")
	case n > MaxItemCount:
		v.Add("item_count", "must be at most %d", MaxItemCount)
	}
}

func validateLotStatus(v *Validation, s LotStatus) {
	if !s.Valid() {
		v.Add("status", "must be one of %s", quoteStatuses(LotStatuses))
	}
}

func quoteStatuses(ss []LotStatus) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Validate checks every field against the seed's CHECKs and the API's
// bounds.
func (l *Lot) Validate() error {
	var v Validation
	validateLotStatus(&v, l.Status)
	validateItemCount(&v, l.ItemCount)
	if l.Description != nil {
		validateBoundedText(&v, "description", *l.Description, MaxLotDescriptionLen)
	}
	if !l.ReceivedAt.IsZero() {
		validateStorableTime(&v, "received_at", l.ReceivedAt)
	}
	return v.Err()
}

// PrepareNewLot fills the defaults of a lot about to be created (status
// received; received by the actor; an empty description is NULL) and
// validates it: a new lot must be
// received and not yet processed. The store sets ReceivedAt (when zero),
// ProcessedAt and the timestamps.
func PrepareNewLot(ctx context.Context, l *Lot) error {
	if l.Status == "" {
		l.Status = LotReceived
	}
	if l.UserID == 0 {
		l.UserID = ActorFromContext(ctx).UserID
	}
	l.Description = nilIfEmpty(l.Description)
	if err := l.Validate(); err != nil {
		return err
	}
	if l.Status != LotReceived {
		return Invalid("status", "must be %q for a new lot", LotReceived)
	}
	if l.UserID <= 0 {
		return Invalid("user_id", "is required (the user who received the lot)")
	}
	if !l.ReceivedAt.IsZero() {
		l.ReceivedAt = Truncate(l.ReceivedAt)
	}
	l.ProcessedAt = nil
	return nil
}

// LotCreatedAudit is the audit row of a new lot.
func LotCreatedAudit(l *Lot) Audit {
	return Audit{Action: ActionLotCreate, Metadata: map[string]any{
		"lot_id": l.ID, "user_id": l.UserID, "status": l.Status, "item_count": l.ItemCount,
	}}
}

// LotDeletedAudit is the audit row of a deleted lot.
func LotDeletedAudit(l *Lot) Audit {
	return Audit{Action: ActionLotDelete, Metadata: map[string]any{
		"lot_id": l.ID, "user_id": l.UserID, "status": l.Status, "item_count": l.ItemCount,
	}}
}

// LotFilter selects lots; results are newest first.
type LotFilter struct {
	Status       *LotStatus
	ReceivedFrom *time.Time // inclusive
	ReceivedTo   *time.Time // exclusive
	Cursor       string
	Limit        int
}

// Validate checks the filter's status.
func (f LotFilter) Validate() error {
	var v Validation
	if f.Status != nil {
		validateLotStatus(&v, *f.Status)
	}
	return v.Err()
}

// LotUpdate changes the non-nil fields of a lot. A Status is a transition
// of the status machine; a Description pointing to "" clears it.
type LotUpdate struct {
	Status      *LotStatus
	ItemCount   *int
	Description *string
}

// Validate checks the fields being changed.
func (up LotUpdate) Validate() error {
	var v Validation
	if up.Status != nil {
		validateLotStatus(&v, *up.Status)
	}
	if up.ItemCount != nil {
		validateItemCount(&v, *up.ItemCount)
	}
	if up.Description != nil {
		validateBoundedText(&v, "description", *up.Description, MaxLotDescriptionLen)
	}
	return v.Err()
}

// LotTransition returns nil if a lot may move from status from to status
// to, else ECONFLICT naming the current status and the allowed moves. Moving
// to the same status is not a transition and is refused too.
func LotTransition(from, to LotStatus) error {
	if slices.Contains(lotTransitions[from], to) {
		return nil
	}
	allowed := "none, it is final"
	if next := lotTransitions[from]; len(next) > 0 {
		allowed = quoteStatuses(next)
	}
	return &Error{
		Code:    ECONFLICT,
		Message: fmt.Sprintf("The lot is %q and cannot change to %q (allowed from %q: %s).", from, to, from, allowed),
		Fields:  []FieldError{{Field: "status", Message: fmt.Sprintf("cannot change from %q to %q", from, to)}},
	}
}

// LotStatusChanged is the ECONFLICT of a status change that lost a race: the
// lot's status changed after the request read it.
func LotStatusChanged(id int, current LotStatus) error {
	return &Error{
		Code:    ECONFLICT,
		Message: fmt.Sprintf("Lot %d is now %q: its status changed while this request ran; reload it and try again.", id, current),
		Fields:  []FieldError{{Field: "status", Message: fmt.Sprintf("is now %q", current)}},
	}
}

// CanEditLot reports whether the actor may change a lot's item count or
// description: the user who received it, or an admin. Any signed-in user
// may move its status (a team workflow).
func CanEditLot(a Actor, l *Lot) bool {
	return a.IsAdmin() || (a.UserID != 0 && a.UserID == l.UserID)
}

// CanDeleteLot reports whether the actor may delete lots: admins only.
func CanDeleteLot(a Actor) bool { return a.IsAdmin() }

// ApplyLotUpdate applies upd to l in memory, with processed_at and
// updated_at at now, and returns the audit rows that describe the change
// (none when nothing changes): lot.status_change for a transition and
// lot.update naming the other changed fields. Returns EFORBIDDEN when the
// actor may not edit the item count or description (CanEditLot) and
// ECONFLICT for a transition the status machine does not allow.
func ApplyLotUpdate(ctx context.Context, l *Lot, upd LotUpdate, now time.Time) ([]Audit, error) {
	if (upd.ItemCount != nil || upd.Description != nil) && !CanEditLot(ActorFromContext(ctx), l) {
		return nil, Errorf(EFORBIDDEN, "Only the user who received the lot or an admin can change its item count or description.")
	}
	var audits []Audit
	if upd.Status != nil {
		if err := LotTransition(l.Status, *upd.Status); err != nil {
			return nil, err
		}
		audits = append(audits, Audit{Action: ActionLotStatusChange, Metadata: map[string]any{
			"lot_id": l.ID, "from": l.Status, "to": *upd.Status,
		}})
		l.Status = *upd.Status
		if l.Status.Final() {
			l.ProcessedAt = &now
		}
	}
	var changed []string
	if upd.ItemCount != nil && *upd.ItemCount != l.ItemCount {
		l.ItemCount = *upd.ItemCount
		changed = append(changed, "item_count")
	}
	if upd.Description != nil {
		var d *string
		if *upd.Description != "" {
			d = upd.Description
		}
		if (d == nil) != (l.Description == nil) || (d != nil && *d != *l.Description) {
			l.Description = d
			changed = append(changed, "description")
		}
	}
	if len(changed) > 0 {
		audits = append(audits, Audit{Action: ActionLotUpdate, Metadata: map[string]any{"lot_id": l.ID, "changed": changed}})
	}
	if len(audits) > 0 {
		l.UpdatedAt = now
	}
	return audits, nil
}

// LotStore persists lots, a team resource. Every mutation writes its
// activity_logs rows in the same transaction, with the actor from the
// context.
type LotStore interface {
	// FindLotByID returns ENOTFOUND if there is no such lot.
	FindLotByID(ctx context.Context, id int) (*Lot, error)
	// FindLots returns one page of lots, newest first, and the cursor of the
	// next page ("" on the last). Returns EINVALID for a bad cursor or status.
	FindLots(ctx context.Context, f LotFilter) ([]*Lot, string, error)
	// CreateLot inserts l (see PrepareNewLot: status received, receiver the
	// actor when l.UserID is 0, ReceivedAt now when zero) and fills ID and
	// timestamps. Returns EINVALID if l is invalid or not "received", and
	// ENOTFOUND if the receiving user does not exist.
	CreateLot(ctx context.Context, l *Lot) error
	// UpdateLot applies upd (see ApplyLotUpdate). Concurrent status changes
	// of one lot cannot both succeed: the loser gets ECONFLICT naming the
	// current status. Returns EINVALID, ENOTFOUND, EFORBIDDEN (editing the
	// item count or description of a lot the actor did not receive, unless
	// admin) and ECONFLICT (a transition the status machine refuses).
	UpdateLot(ctx context.Context, id int, upd LotUpdate) (*Lot, error)
	// DeleteLot deletes a lot. Returns ENOTFOUND, and EFORBIDDEN unless the
	// actor is an admin.
	DeleteLot(ctx context.Context, id int) error
}
