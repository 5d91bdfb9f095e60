// Package sdnotify sends service state to systemd (sd_notify(3)): one
// datagram on the unix socket named by $NOTIFY_SOCKET, for units with
// Type=notify. Without $NOTIFY_SOCKET (not started by systemd, or by a unit
// of another type) every call is a no-op, so callers need not check.
//
// The protocol is newline-separated KEY=VALUE assignments in one datagram:
// READY=1 once the service accepts requests, STOPPING=1 when it begins to
// shut down, STATUS=... free text shown by `systemctl status`. A socket
// path starting with "@" is in the abstract namespace.
package sdnotify

import (
	"errors"
	"net"
	"strings"
)

// The states a service sends (sd_notify(3)).
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
)

// EnvSocket is the variable systemd sets to the notification socket.
const EnvSocket = "NOTIFY_SOCKET"

// Notifier sends to one socket. The zero Notifier (no socket) sends
// nothing.
type Notifier struct {
	// Socket is the datagram socket's path, "@name" for the abstract
	// namespace; empty disables notification.
	Socket string
}

// FromEnv returns the Notifier for $NOTIFY_SOCKET as lookup reports it
// (os.LookupEnv in a program, a map in a test).
func FromEnv(lookup func(string) (string, bool)) Notifier {
	v, _ := lookup(EnvSocket)
	return Notifier{Socket: v}
}

// Enabled reports whether there is a socket to send to.
func (n Notifier) Enabled() bool { return n.Socket != "" }

// Notify sends the assignments (for example Ready, "STATUS=listening on
// :4873") in one datagram. It returns nil without a socket.
func (n Notifier) Notify(states ...string) error {
	if n.Socket == "" {
		return nil
	}
	if len(states) == 0 {
		return errors.New("sdnotify: nothing to send")
	}
	for _, s := range states {
		if !strings.Contains(s, "=") || strings.Contains(s, "\n") {
			return errors.New("sdnotify: not a KEY=VALUE line: " + s)
		}
	}
	name := n.Socket
	if name[0] == '@' {
		name = "\x00" + name[1:] // abstract namespace
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(strings.Join(states, "\n") + "\n"))
	return err
}
