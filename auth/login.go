package auth

import (
	"strings"
	"unicode/utf8"
)

func normalizeLogin(login string) string {
	return strings.ToLower(strings.TrimSpace(clampLogin(login)))
}

// clampLogin bounds what a failed login stores of the attempted name.
func clampLogin(login string) string {
	login = strings.ToValidUTF8(login, "")
	if len(login) <= 255 {
		return login
	}
	login = login[:255]
	for !utf8.ValidString(login) {
		login = login[:len(login)-1]
	}
	return login
}
