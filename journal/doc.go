// Package journal will hold the bbolt record of every exec: runs, sessions,
// two-phase entries, checkpoint references and the hash chain, with its
// readers, exports and verification. It imports nothing else from execkit.
// Nothing is implemented here yet.
package journal
