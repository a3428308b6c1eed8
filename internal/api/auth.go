package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
)

// DefaultUser is the user a RESP "AUTH password" (one argument) and an HTTP bearer
// token without a user name authenticate as.
const DefaultUser = "default"

// Auth holds the users allowed on the client ports and their tokens (passwords). The
// zero or nil Auth lets everyone in. Safe for concurrent use (it is never modified
// after construction).
type Auth struct {
	users map[string][32]byte // user → SHA-256 of the token
}

// NewAuth makes an Auth from user → token; an empty map means no authentication.
func NewAuth(tokens map[string]string) (*Auth, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	a := &Auth{users: map[string][32]byte{}}
	for u, tok := range tokens {
		if u == "" || strings.ContainsAny(u, " \t\r\n") {
			return nil, fmt.Errorf("auth: bad user name %q", u)
		}
		if len(tok) < 8 {
			return nil, fmt.Errorf("auth: the token of user %q is shorter than 8 characters", u)
		}
		a.users[u] = sha256.Sum256([]byte(tok))
	}
	return a, nil
}

// LoadUsers reads a users file: one "user token" pair per line; blank lines and lines
// starting with # are skipped.
func LoadUsers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"user token\"", path, line)
		}
		if _, dup := out[fields[0]]; dup {
			return nil, fmt.Errorf("%s:%d: user %q listed twice", path, line, fields[0])
		}
		out[fields[0]] = fields[1]
	}
	return out, sc.Err()
}

// Enabled reports whether clients must authenticate.
func (a *Auth) Enabled() bool { return a != nil && len(a.users) > 0 }

// ErrAuth is returned for a wrong user or token; it does not say which was wrong.
var ErrAuth = errors.New("WRONGPASS invalid username-password pair or user is disabled")

// Check reports whether token is user's token, in time independent of where they
// differ. An empty user means DefaultUser.
func (a *Auth) Check(user, token string) error {
	if !a.Enabled() {
		return nil
	}
	if user == "" {
		user = DefaultUser
	}
	want, ok := a.users[user]
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 || !ok {
		return ErrAuth
	}
	return nil
}

// CheckBearer checks an HTTP bearer token: "TOKEN" for the default user, or
// "USER:TOKEN".
func (a *Auth) CheckBearer(bearer string) error {
	if u, tok, ok := strings.Cut(bearer, ":"); ok {
		if a.Check(u, tok) == nil {
			return nil
		}
	}
	return a.Check(DefaultUser, bearer)
}
