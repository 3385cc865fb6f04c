//go:build !integration

package sessiontest

// FloodBytes is how much a flood test writes through a transport: enough
// to pass many times through every buffer and cap on the way. The
// integration tier (-tags integration) writes 2 GiB.
const FloodBytes = 64 << 20
