//go:build windows

package session

import "io"

// newPollSource: Windows streams get a pump goroutine each.
func newPollSource(io.Reader, io.Reader) (outputSource, bool) { return nil, false }
