//go:build !linux || !(amd64 || arm64)

package execfence

import "os"

// Built says whether this build can hold program starts.
const Built = false

// Install is not available here.
func Install() (*os.File, error) { return nil, ErrUnsupported }

// Serve is not available here.
func Serve(listener *os.File, check func(*Attempt) error, stop <-chan struct{}) error {
	return ErrUnsupported
}

// Send is not available here.
func Send(sock *os.File, listener *os.File) error { return ErrUnsupported }

// Receive is not available here.
func Receive(sock *os.File) (*os.File, byte, error) { return nil, 0, ErrUnsupported }
