// Package undo will hold workspace checkpoints stored as git objects in a
// repository of their own, and their restore. It imports nothing else from
// execkit. Nothing is implemented here yet.
package undo
