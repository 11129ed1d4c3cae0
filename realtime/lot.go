package realtime

import (
	"context"

	"workspace"
)

// dispatchOther handles lot changes: lots are a team resource, so every
// connection receives them.
func (h *Hub) dispatchOther(ctx context.Context, ch workspace.Change) error {
	switch ch.Kind {
	case workspace.ChangeLotCreated, workspace.ChangeLotUpdated:
		lot, err := h.Store.FindLotByID(ctx, ch.ID)
		if err != nil {
			return err
		}
		frame := outFrame{data: encode(ch.Kind, lot.ID, lot)}
		for _, c := range h.connections() {
			c.enqueue(frame)
		}
	}
	return nil
}
