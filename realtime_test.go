package workspace_test

import (
	"encoding/json"
	"testing"

	"workspace"
)

// The constant new-message payload must stay what a Change of that kind
// encodes to: listeners of another version decode it as a Change.
func TestMessageCreatedNotification(t *testing.T) {
	var c workspace.Change
	if err := json.Unmarshal([]byte(workspace.MessageCreatedNotification), &c); err != nil {
		t.Fatal(err)
	}
	if c != (workspace.Change{Kind: workspace.ChangeMessageCreated}) {
		t.Fatalf("decodes to %+v", c)
	}
	b, _ := json.Marshal(workspace.Change{Kind: workspace.ChangeMessageCreated})
	if string(b) != workspace.MessageCreatedNotification {
		t.Fatalf("a Change of the kind encodes to %s, the constant is %s", b, workspace.MessageCreatedNotification)
	}
}
