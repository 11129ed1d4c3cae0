package workspace_test

import (
	"encoding/json"
	"testing"

	"workspace"
)

func TestValidateShortcutAction(t *testing.T) {
	for _, tc := range []struct {
		typ, data string
		field     string // "" when valid
	}{
		{"url", `{"url":"https://example.com/a?b=c#d"}`, ""},
		{"url", `{"url":"HTTP://Example.com"}`, ""},
		{"url", `{"url":"javascript:alert(1)"}`, "action_data.url"},
		{"url", `{"url":"jAvAsCrIpT:alert(1)"}`, "action_data.url"},
		{"url", `{"url":" javascript:alert(1)"}`, "action_data.url"},
		{"url", `{"url":"data:text/html;base64,PHNjcmlwdD4="}`, "action_data.url"},
		{"url", `{"url":"file:///etc/passwd"}`, "action_data.url"},
		{"url", `{"url":"vbscript:msgbox"}`, "action_data.url"},
		{"url", `{"url":"example.com"}`, "action_data.url"},
		{"url", `{"url":"http://"}`, "action_data.url"},
		{"url", `{"url":"http://:80/x"}`, "action_data.url"},
		{"url", `{"url":""}`, "action_data.url"},
		{"url", `{}`, "action_data.url"},
		{"url", `{"url":"https://a.example","extra":1}`, "action_data.extra"},
		{"app", `{"app":"firefox"}`, ""},
		{"app", `{"app":"code","args":["-n","."]}`, ""},
		{"app", `{"app":"code","args":[]}`, ""},
		{"app", `{"app":"code","args":null}`, "action_data.args"},
		{"app", `{"app":"code","args":[null]}`, "action_data.args[0]"},
		{"app", `{"args":["x"]}`, "action_data.app"},
		{"file", `{"path":"/etc/hosts"}`, ""},
		{"folder", `{"path":"C:\\Users\\me"}`, ""},
		{"folder", `{"path":"   "}`, "action_data.path"},
		{"folder", `{"path":["/"]}`, "action_data.path"},
		{"file", `"/etc/hosts"`, "action_data"},
		{"file", `{"path":"/a"} {}`, "action_data"},
		{"file", `{"path":"/a","path":"/b"}`, "action_data"},
		{"shell", `{"cmd":"ls"}`, "action_type"},
		{"", `{}`, "action_type"},
	} {
		err := workspace.ValidateShortcutAction(tc.typ, json.RawMessage(tc.data))
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s %s: %v", tc.typ, tc.data, err)
			}
			continue
		}
		if e, ok := err.(*workspace.Error); !ok || e.Code != workspace.EINVALID || e.Fields[0].Field != tc.field {
			t.Errorf("%s %s: %v, want EINVALID on %s", tc.typ, tc.data, err, tc.field)
		}
	}
}

// FuzzValidateShortcutAction: any input is accepted or refused with
// EINVALID, never a panic; an accepted url is http(s).
func FuzzValidateShortcutAction(f *testing.F) {
	f.Add("url", `{"url":"https://example.com"}`)
	f.Add("app", `{"app":"x","args":["y"]}`)
	f.Add("file", `{"path":"/"}`)
	f.Fuzz(func(t *testing.T, typ, data string) {
		err := workspace.ValidateShortcutAction(typ, json.RawMessage(data))
		if err != nil && workspace.ErrorCode(err) != workspace.EINVALID {
			t.Fatalf("error code %q", workspace.ErrorCode(err))
		}
	})
}

func TestCheckShortcutOrder(t *testing.T) {
	owned := []int{1, 2, 3}
	for _, tc := range []struct {
		ids  []int
		code string
	}{
		{[]int{3, 1, 2}, ""},
		{[]int{1, 2, 3}, ""},
		{[]int{1, 1, 2, 3}, workspace.EINVALID},
		{[]int{1, 2}, workspace.EINVALID},
		{nil, workspace.EINVALID},
		{[]int{1, 2, 3, 4}, workspace.ENOTFOUND},
		{[]int{1, 2, 4}, workspace.ENOTFOUND},
	} {
		if got := workspace.ErrorCode(workspace.CheckShortcutOrder(tc.ids, owned)); got != tc.code {
			t.Errorf("CheckShortcutOrder(%v) = %q, want %q", tc.ids, got, tc.code)
		}
	}
	if err := workspace.CheckShortcutOrder(nil, nil); err != nil {
		t.Errorf("empty order of no shortcuts: %v", err)
	}
}

func TestApplyShortcutUpdate(t *testing.T) {
	sc := &workspace.Shortcut{ID: 1, Name: "n", ActionType: "url", ActionData: json.RawMessage(`{"url":"https://a.example"}`)}
	typ := "file"
	if _, err := workspace.ApplyShortcutUpdate(sc, workspace.ShortcutUpdate{ActionType: &typ}, workspace.Now()); workspace.ErrorCode(err) != workspace.EINVALID {
		t.Fatalf("type change alone: %v", err)
	}
	sc = &workspace.Shortcut{ID: 1, Name: "n", ActionType: "url", ActionData: json.RawMessage(`{"url": "https://a.example"}`)}
	audit, err := workspace.ApplyShortcutUpdate(sc, workspace.ShortcutUpdate{ActionData: json.RawMessage(`{"url":"https://a.example"}`)}, workspace.Now())
	if err != nil || audit != nil {
		t.Fatalf("same data: %v, %v", audit, err)
	}
}
