//go:build windows

package local

import (
	"context"
	"errors"

	"github.com/execkit/execkit/transport"
)

// ErrUnsupported is Start's error on Windows, which has no local
// transport yet: sessions there go over SSH or into Docker (README,
// platforms).
var ErrUnsupported = errors.New("local: local sessions are not supported on Windows yet; use --ssh or --docker")

// Start implements transport.Transport: on Windows it refuses.
func (t *Transport) Start(context.Context, transport.StartOptions) (transport.Process, error) {
	return nil, ErrUnsupported
}
