// Package replay will re-run a journal against a fresh session and compare
// two journals. It imports only session and journal from execkit. Nothing is
// implemented here yet.
package replay
