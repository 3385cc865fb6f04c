//go:build integration

package sessiontest

// FloodBytes is how much a flood test writes through a transport: in the
// integration tier, 2 GiB.
const FloodBytes = 2 << 30
