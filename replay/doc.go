// Package replay re-runs the commands of a journal in fresh sessions and
// compares what they print with what was recorded, and compares two
// journals without running anything.
//
// Each recorded session gets one fresh session (opened by the caller's
// Opener, on whatever target), with the recorded shell, policy and
// timeout; entries run in order. A blocked entry is checked to be blocked
// still and never runs. Secret placeholders (${secret:NAME}) in recorded
// commands are filled from values the caller supplies; a missing one is an
// error before anything runs.
//
// Outputs are compared after normalizers (durations, timestamps, pids,
// temporary paths, hex ids, terminal escapes, trailing spaces, and rules of
// the caller's) have replaced what legitimately differs from run to run.
// Reports come as text with unified diffs, JSON (docs/replay.md) or JUnit
// XML.
package replay
