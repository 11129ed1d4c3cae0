package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"workspace"
)

// MustCreateShortcut creates a url shortcut named name for u.
func MustCreateShortcut(tb testing.TB, s workspace.Store, u *workspace.User, name string) *workspace.Shortcut {
	tb.Helper()
	sc := &workspace.Shortcut{UserID: u.ID, Name: name, ActionType: "url",
		ActionData: json.RawMessage(`{"url": "https://example.com/` + name + `"}`)}
	if err := s.CreateShortcut(ctxAs(u), sc); err != nil {
		tb.Fatalf("CreateShortcut(%q): %v", name, err)
	}
	return sc
}

// mustOrder returns the ids of u's shortcuts in order and checks that the
// order is dense (0..n-1).
func mustOrder(tb testing.TB, s workspace.Store, u *workspace.User) []int {
	tb.Helper()
	list, err := s.FindShortcuts(context.Background(), u.ID)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []int
	for i, sc := range list {
		if sc.OrderIndex != i || sc.UserID != u.ID {
			tb.Fatalf("shortcut %d at position %d has order_index %d (owner %d)", sc.ID, i, sc.OrderIndex, sc.UserID)
		}
		ids = append(ids, sc.ID)
	}
	return ids
}

func testShortcut(t *testing.T, newStore NewStore) {
	// Ensure shortcuts are appended in order and read back alike.
	t.Run("CreateOK", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		a := MustCreateShortcut(t, s, u, "a")
		b := &workspace.Shortcut{UserID: u.ID, Name: "Editor", Description: ptr("my editor"), Icon: ptr("✎"),
			ActionType: "app", ActionData: json.RawMessage(`{"app": "code", "args": ["--new-window", "~/src"]}`)}
		if err := s.CreateShortcut(ctxAs(u), b); err != nil {
			t.Fatal(err)
		}
		c := &workspace.Shortcut{UserID: u.ID, Name: "Docs", Description: ptr(""), ActionType: "folder",
			ActionData: json.RawMessage(`{"path":"/home/alice/Documents"}`)}
		if err := s.CreateShortcut(ctxAs(u), c); err != nil {
			t.Fatal(err)
		}
		if a.OrderIndex != 0 || b.OrderIndex != 1 || c.OrderIndex != 2 || c.Description != nil {
			t.Fatalf("created = %+v %+v %+v", a, b, c)
		}
		list, err := s.FindShortcuts(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*workspace.Shortcut{a, b, c}, list); diff != "" {
			t.Fatalf("read back differs (-created +read):\n%s", diff)
		}
		got, err := s.FindShortcutByID(context.Background(), u.ID, b.ID)
		if err != nil || string(got.ActionData) != `{"app":"code","args":["--new-window","~/src"]}` {
			t.Fatalf("get = %s, %v", got.ActionData, err)
		}
		if rows := auditsOf(t, s, workspace.ActionShortcutCreate, "shortcut_id", b.ID); len(rows) != 1 {
			t.Fatalf("shortcut.create rows = %v", rows)
		}
	})

	// Ensure the seed's CHECK, the column widths and the action rules are
	// refused before SQL, with the field named.
	t.Run("ErrInvalid", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		url := func(v string) json.RawMessage { b, _ := json.Marshal(map[string]string{"url": v}); return b }
		for name, tc := range map[string]struct {
			sc    workspace.Shortcut
			field string
		}{
			"NameEmpty":       {workspace.Shortcut{Name: "", ActionType: "url", ActionData: url("https://a.example")}, "name"},
			"NameBlank":       {workspace.Shortcut{Name: "  ", ActionType: "url", ActionData: url("https://a.example")}, "name"},
			"NameLong":        {workspace.Shortcut{Name: strings.Repeat("n", 256), ActionType: "url", ActionData: url("https://a.example")}, "name"},
			"IconLong":        {workspace.Shortcut{Name: "x", Icon: ptr(strings.Repeat("i", 101)), ActionType: "url", ActionData: url("https://a.example")}, "icon"},
			"TypeUnknown":     {workspace.Shortcut{Name: "x", ActionType: "shell", ActionData: json.RawMessage(`{"cmd":"rm -rf /"}`)}, "action_type"},
			"TypeMissing":     {workspace.Shortcut{Name: "x", ActionData: url("https://a.example")}, "action_type"},
			"DataMissing":     {workspace.Shortcut{Name: "x", ActionType: "url"}, "action_data"},
			"DataNull":        {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: json.RawMessage(`null`)}, "action_data"},
			"DataArray":       {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: json.RawMessage(`["https://a.example"]`)}, "action_data"},
			"DataDuplicate":   {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: json.RawMessage(`{"url":"https://a.example","url":"javascript:alert(1)"}`)}, "action_data"},
			"URLJavascript":   {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: url("javascript:alert(1)")}, "action_data.url"},
			"URLJavascriptUC": {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: url("JavaScript://example.com/%0Aalert(1)")}, "action_data.url"},
			"URLData":         {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: url("data:text/html,<script>alert(1)</script>")}, "action_data.url"},
			"URLFile":         {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: url("file:///etc/passwd")}, "action_data.url"},
			"URLFTP":          {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: url("ftp://example.com/x")}, "action_data.url"},
			"URLRelative":     {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: url("//example.com/x")}, "action_data.url"},
			"URLNoHost":       {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: url("https:///path")}, "action_data.url"},
			"URLNotString":    {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: json.RawMessage(`{"url":42}`)}, "action_data.url"},
			"URLUnknownKey":   {workspace.Shortcut{Name: "x", ActionType: "url", ActionData: json.RawMessage(`{"url":"https://a.example","target":"_blank"}`)}, "action_data.target"},
			"AppEmpty":        {workspace.Shortcut{Name: "x", ActionType: "app", ActionData: json.RawMessage(`{"app":""}`)}, "action_data.app"},
			"AppArgsNotStr":   {workspace.Shortcut{Name: "x", ActionType: "app", ActionData: json.RawMessage(`{"app":"vi","args":[1]}`)}, "action_data.args[0]"},
			"AppArgsNotArray": {workspace.Shortcut{Name: "x", ActionType: "app", ActionData: json.RawMessage(`{"app":"vi","args":"-R"}`)}, "action_data.args"},
			"FilePathMissing": {workspace.Shortcut{Name: "x", ActionType: "file", ActionData: json.RawMessage(`{"url":"https://a.example"}`)}, "action_data.url"},
			"FolderPathNUL":   {workspace.Shortcut{Name: "x", ActionType: "folder", ActionData: json.RawMessage(`{"path":"/tmp\u0000x"}`)}, "action_data.path"},
		} {
			t.Run(name, func(t *testing.T) {
				sc := tc.sc
				sc.UserID = u.ID
				err := s.CreateShortcut(ctxAs(u), &sc)
				wantCode(t, err, workspace.EINVALID)
				if e := err.(*workspace.Error); len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
					t.Fatalf("fields = %+v, want %s first", e.Fields, tc.field)
				}
			})
		}
		err := s.CreateShortcut(ctxAs(u), &workspace.Shortcut{UserID: 999999, Name: "x", ActionType: "file", ActionData: json.RawMessage(`{"path":"/x"}`)})
		wantCode(t, err, workspace.ENOTFOUND)
		if ids := mustOrder(t, s, u); len(ids) != 0 {
			t.Fatalf("stored %v, want nothing", ids)
		}
	})

	// Ensure another user's shortcut reads as missing for every method.
	t.Run("Ownership", func(t *testing.T) {
		s := newStore(t)
		alice := MustCreateUser(t, s, "alice", nil)
		bob := MustCreateUser(t, s, "bob", nil)
		a := MustCreateShortcut(t, s, alice, "a")
		mine := MustCreateShortcut(t, s, bob, "b")
		_, err := s.FindShortcutByID(context.Background(), bob.ID, a.ID)
		wantCode(t, err, workspace.ENOTFOUND)
		_, err = s.UpdateShortcut(ctxAs(bob), bob.ID, a.ID, workspace.ShortcutUpdate{Name: ptr("pwned")})
		wantCode(t, err, workspace.ENOTFOUND)
		wantCode(t, s.DeleteShortcut(ctxAs(bob), bob.ID, a.ID), workspace.ENOTFOUND)
		_, err = s.ReorderShortcuts(ctxAs(bob), bob.ID, []int{a.ID, mine.ID})
		wantCode(t, err, workspace.ENOTFOUND)
		_, err = s.ReorderShortcuts(ctxAs(bob), bob.ID, []int{a.ID})
		wantCode(t, err, workspace.ENOTFOUND)
		got, err := s.FindShortcutByID(context.Background(), alice.ID, a.ID)
		if err != nil || got.Name != "a" {
			t.Fatalf("alice's shortcut = %+v, %v", got, err)
		}
		if diff := cmp.Diff([]int{mine.ID}, mustOrder(t, s, bob)); diff != "" {
			t.Fatalf("bob's list (-want +got):\n%s", diff)
		}
	})

	// Ensure updates apply, are checked as a whole, and audit field names only.
	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		sc := MustCreateShortcut(t, s, u, "a")
		got, err := s.UpdateShortcut(ctxAs(u), u.ID, sc.ID, workspace.ShortcutUpdate{
			Name: ptr("Secrets"), Icon: ptr("key"), ActionType: ptr("file"),
			ActionData: json.RawMessage(`{ "path": "/home/alice/passwords.kdbx" }`),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Secrets" || got.ActionType != "file" || string(got.ActionData) != `{"path":"/home/alice/passwords.kdbx"}` || got.OrderIndex != 0 {
			t.Fatalf("updated = %+v (%s)", got, got.ActionData)
		}
		read, _ := s.FindShortcutByID(context.Background(), u.ID, sc.ID)
		if diff := cmp.Diff(got, read); diff != "" {
			t.Fatalf("read back (-updated +read):\n%s", diff)
		}
		// The type alone cannot change: the data must suit the new type.
		_, err = s.UpdateShortcut(ctxAs(u), u.ID, sc.ID, workspace.ShortcutUpdate{ActionType: ptr("url")})
		wantCode(t, err, workspace.EINVALID)
		_, err = s.UpdateShortcut(ctxAs(u), u.ID, sc.ID, workspace.ShortcutUpdate{ActionType: ptr("url"), ActionData: json.RawMessage(`{"url":"javascript:alert(1)"}`)})
		wantCode(t, err, workspace.EINVALID)
		_, err = s.UpdateShortcut(ctxAs(u), u.ID, sc.ID, workspace.ShortcutUpdate{Name: ptr("")})
		wantCode(t, err, workspace.EINVALID)
		// Clearing the icon; the same data differently spaced is no change.
		got, err = s.UpdateShortcut(ctxAs(u), u.ID, sc.ID, workspace.ShortcutUpdate{Icon: ptr(""), ActionData: json.RawMessage(`{"path":"/home/alice/passwords.kdbx"}`)})
		if err != nil || got.Icon != nil {
			t.Fatalf("clear icon: %+v, %v", got, err)
		}
		if _, err := s.UpdateShortcut(ctxAs(u), u.ID, sc.ID, workspace.ShortcutUpdate{Name: ptr("Secrets")}); err != nil {
			t.Fatal(err)
		}
		_, err = s.UpdateShortcut(ctxAs(u), u.ID, 999999, workspace.ShortcutUpdate{Name: ptr("x")})
		wantCode(t, err, workspace.ENOTFOUND)
		rows := auditsOf(t, s, workspace.ActionShortcutUpdate, "shortcut_id", sc.ID)
		if len(rows) != 2 {
			t.Fatalf("shortcut.update rows = %v, want 2", rows)
		}
		if diff := cmp.Diff([]any{"name", "icon", "action_type", "action_data"}, rows[1]["changed"]); diff != "" {
			t.Fatalf("changed (-want +got):\n%s", diff)
		}
		for _, l := range mustLogs(t, s, workspace.ActivityFilter{Action: ptr("shortcut.*")}) {
			if strings.Contains(string(l.Metadata), "passwords") {
				t.Fatalf("action data in the audit trail: %s", l.Metadata)
			}
		}
	})

	// Ensure a reorder takes exactly the owner's full set and applies at once.
	t.Run("Reorder", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		other := MustCreateUser(t, s, "bob", nil)
		foreign := MustCreateShortcut(t, s, other, "z")
		var ids []int
		for _, n := range []string{"a", "b", "c", "d"} {
			ids = append(ids, MustCreateShortcut(t, s, u, n).ID)
		}
		want := []int{ids[2], ids[0], ids[3], ids[1]}
		list, err := s.ReorderShortcuts(ctxAs(u), u.ID, want)
		if err != nil {
			t.Fatal(err)
		}
		for i, sc := range list {
			if sc.ID != want[i] || sc.OrderIndex != i {
				t.Fatalf("returned %d at %d with index %d", sc.ID, i, sc.OrderIndex)
			}
		}
		if diff := cmp.Diff(want, mustOrder(t, s, u)); diff != "" {
			t.Fatalf("stored order (-want +got):\n%s", diff)
		}
		for name, tc := range map[string]struct {
			ids  []int
			code string
		}{
			"Duplicate":       {[]int{ids[0], ids[0], ids[1], ids[2], ids[3]}, workspace.EINVALID},
			"DuplicateOnly":   {[]int{ids[0], ids[1], ids[2], ids[2]}, workspace.EINVALID},
			"Missing":         {[]int{ids[0], ids[1], ids[2]}, workspace.EINVALID},
			"Empty":           {nil, workspace.EINVALID},
			"Unknown":         {[]int{ids[0], ids[1], ids[2], ids[3], 999999}, workspace.ENOTFOUND},
			"Foreign":         {[]int{ids[0], ids[1], ids[2], foreign.ID}, workspace.ENOTFOUND},
			"ForeignAppended": {[]int{ids[0], ids[1], ids[2], ids[3], foreign.ID}, workspace.ENOTFOUND},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := s.ReorderShortcuts(ctxAs(u), u.ID, tc.ids)
				wantCode(t, err, tc.code)
				if diff := cmp.Diff(want, mustOrder(t, s, u)); diff != "" {
					t.Fatalf("refused reorder changed the order (-want +got):\n%s", diff)
				}
			})
		}
		// The same order again changes nothing and is not audited.
		if _, err := s.ReorderShortcuts(ctxAs(u), u.ID, want); err != nil {
			t.Fatal(err)
		}
		if n := len(mustLogs(t, s, workspace.ActivityFilter{Action: ptr(workspace.ActionShortcutReorder)})); n != 1 {
			t.Fatalf("shortcut.reorder rows = %d, want 1", n)
		}
		if diff := cmp.Diff([]int{foreign.ID}, mustOrder(t, s, other)); diff != "" {
			t.Fatalf("other user's order (-want +got):\n%s", diff)
		}
	})

	// Ensure the order stays dense after deletes and a create appends.
	t.Run("DeleteKeepsOrderDense", func(t *testing.T) {
		s := newStore(t)
		u := MustCreateUser(t, s, "alice", nil)
		var ids []int
		for _, n := range []string{"a", "b", "c", "d"} {
			ids = append(ids, MustCreateShortcut(t, s, u, n).ID)
		}
		if err := s.DeleteShortcut(ctxAs(u), u.ID, ids[1]); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteShortcut(ctxAs(u), u.ID, ids[0]); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.DeleteShortcut(ctxAs(u), u.ID, ids[0]), workspace.ENOTFOUND)
		e := MustCreateShortcut(t, s, u, "e")
		if diff := cmp.Diff([]int{ids[2], ids[3], e.ID}, mustOrder(t, s, u)); diff != "" {
			t.Fatalf("order after deletes (-want +got):\n%s", diff)
		}
		if rows := auditsOf(t, s, workspace.ActionShortcutDelete, "shortcut_id", ids[1]); len(rows) != 1 {
			t.Fatalf("shortcut.delete rows = %v", rows)
		}
	})

	// Ensure concurrent creates by one user still give a dense order.
	t.Run("ConcurrentCreate", func(t *testing.T) {
		s := newStore(t)
		// Several rounds: the first also warms the connection pool, so the
		// later ones really overlap.
		for round := range 3 {
			u := MustCreateUser(t, s, fmt.Sprint("user", round), nil)
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			start := make(chan struct{}) // release every goroutine at once
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = s.CreateShortcut(ctxAs(u), &workspace.Shortcut{UserID: u.ID, Name: fmt.Sprint("s", i),
						ActionType: "file", ActionData: json.RawMessage(`{"path":"/tmp"}`)})
				}()
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if ids := mustOrder(t, s, u); len(ids) != n {
				t.Fatalf("%d shortcuts, want %d", len(ids), n)
			}
		}
	})

	// Ensure deleting the owner deletes their shortcuts (the seed's cascade).
	t.Run("OwnerDeleteCascades", func(t *testing.T) {
		s := newStore(t)
		admin := MustCreateUser(t, s, "admin", nil)
		u := MustCreateUser(t, s, "alice", nil)
		sc := MustCreateShortcut(t, s, u, "a")
		if err := s.DeleteUser(ctxAs(admin), u.ID); err != nil {
			t.Fatal(err)
		}
		_, err := s.FindShortcutByID(context.Background(), u.ID, sc.ID)
		wantCode(t, err, workspace.ENOTFOUND)
	})
}
