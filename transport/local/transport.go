package local

import "os"

// Transport starts processes on the local machine. The zero value is ready
// to use.
type Transport struct{}

// New returns a local Transport.
func New() *Transport { return &Transport{} }

// Describe names the transport and its target for journals.
func (t *Transport) Describe() (kind, target string) {
	host, _ := os.Hostname()
	return "local", host
}
