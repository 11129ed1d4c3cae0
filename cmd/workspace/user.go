package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"workspace"
	"workspace/auth"
)

// systemContext marks changes made from the shell in the audit trail.
func systemContext(ctx context.Context) context.Context {
	return workspace.NewContextWithActor(ctx, workspace.Actor{UserAgent: "workspace-cli"})
}

func runUser(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var email string
	var admin bool
	fs.StringVar(&email, "email", "", "email of a new user")
	fs.BoolVar(&admin, "admin", false, "create the user as an admin")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: workspace user [flags] create|set-password|promote|demote <username>\n\nThe password is read from the terminal, or from the first line of standard input.")
		fs.PrintDefaults()
	}
	cfg, err := loadConfig(fs, args, getenv)
	if err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("user: need a subcommand and a username")
	}
	sub, name := fs.Arg(0), fs.Arg(1)
	db, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	ctx = systemContext(ctx)
	hashPassword := func() (string, error) {
		pw, err := readPassword(stdin, stderr)
		if err != nil {
			return "", err
		}
		if err := auth.ValidatePassword("password", pw); err != nil {
			return "", errors.New(workspace.ErrorMessage(err))
		}
		return auth.HashBcrypt(pw, cfg.BcryptCost)
	}
	switch sub {
	case "create":
		hash, err := hashPassword()
		if err != nil {
			return err
		}
		u := &workspace.User{Username: name, PasswordHash: hash, Role: workspace.RoleUser}
		if email != "" {
			u.Email = &email
		}
		if admin {
			u.Role = workspace.RoleAdmin
		}
		if err := db.CreateUser(ctx, u); err != nil {
			return errors.New(workspace.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "created %s (id %d, %s)\n", u.Username, u.ID, u.Role)
		return nil
	case "set-password", "promote", "demote":
		u, err := db.FindUserByLogin(ctx, name)
		if err != nil {
			return errors.New(workspace.ErrorMessage(err))
		}
		if sub == "set-password" {
			hash, err := hashPassword()
			if err != nil {
				return err
			}
			// Every session is revoked: the old password may be compromised.
			if err := db.SetPassword(ctx, u.ID, hash, ""); err != nil {
				return errors.New(workspace.ErrorMessage(err))
			}
			fmt.Fprintf(stdout, "password of %s changed; all their sessions revoked\n", u.Username)
			return nil
		}
		role := workspace.RoleAdmin
		if sub == "demote" {
			role = workspace.RoleUser
		}
		if _, err := db.UpdateUser(ctx, u.ID, workspace.UserUpdate{Role: &role}); err != nil {
			return errors.New(workspace.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "%s is now %s\n", u.Username, role)
		return nil
	}
	fs.Usage()
	return fmt.Errorf("user: unknown subcommand %q", sub)
}

// readPassword reads a password without echo from a terminal, else the
// first line of stdin. Never from a flag: flags land in shell history and
// the process list.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(pw) != string(again) {
			return "", errors.New("passwords do not match")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
