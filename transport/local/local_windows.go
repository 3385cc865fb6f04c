//go:build windows

package local

import (
	"context"
	"errors"
	"os"

	"github.com/execkit/execkit/transport"
)

// Transport is the local transport, which Windows does not have yet:
// sessions there go over SSH or into Docker (README, platforms).
type Transport struct{}

// New returns a local Transport.
func New() *Transport { return &Transport{} }

// Describe names the transport and its target for journals.
func (t *Transport) Describe() (kind, target string) {
	host, _ := os.Hostname()
	return "local", host
}

// ErrUnsupported is Start's error on Windows.
var ErrUnsupported = errors.New("local: local sessions are not supported on Windows yet; use --ssh or --docker")

// Start implements transport.Transport: on Windows it refuses.
func (t *Transport) Start(context.Context, transport.StartOptions) (transport.Process, error) {
	return nil, ErrUnsupported
}
