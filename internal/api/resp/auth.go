package resp

import (
	"errors"
	"fmt"

	"github.com/tidwall/redcon"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
)

// Limits on a connection that has not authenticated yet (when the server requires
// it): an anonymous client cannot make the server hold more than a few KiB for it.
const (
	unauthMaxArg  = 4 << 10
	unauthMaxArgs = 16
)

// errNoAuth answers any command but PING, AUTH, HELLO and QUIT before AUTH.
var errNoAuth = errors.New("NOAUTH Authentication required.")

// allowedBeforeAuth reports whether a command may run on a connection that has not
// authenticated.
func allowedBeforeAuth(name []byte) bool {
	return is(name, "AUTH") || is(name, "HELLO") || is(name, "PING") || is(name, "QUIT")
}

// authenticate checks user and token; on success the connection may run every
// command and send arguments as large as the limits allow.
func (s *Server) authenticate(c *client, user, token string) error {
	if !s.cfg.Auth.Enabled() {
		return fmt.Errorf("%w AUTH <password> called without any password configured for the default user", core.ErrBadRequest)
	}
	if err := s.cfg.Auth.Check(user, token); err != nil {
		return err
	}
	if !c.authed {
		c.authed = true
		c.rd.limit(s.cfg.Limits.MaxArgBytes(), maxArgs)
	}
	return nil
}

// cmdAuth: AUTH password (user "default") or AUTH user password → +OK, or WRONGPASS.
func (s *Server) cmdAuth(c *client, args [][]byte) {
	var err error
	switch len(args) {
	case 2:
		err = s.authenticate(c, api.DefaultUser, string(args[1]))
	case 3:
		err = s.authenticate(c, string(args[1]), string(args[2]))
	default:
		err = errArity("auth")
	}
	if err != nil {
		c.out = appendError(c.out, err)
		return
	}
	c.out = redcon.AppendOK(c.out)
}
