// Package execkit is the root of the execkit module: persistent,
// structured, safe shell sessions for AI agents. The code lives in the
// subpackages; see docs/architecture.md for the map.
package execkit
