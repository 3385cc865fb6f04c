// Package undosuite checks workspace checkpoints and restore on every
// transport: git on the far side over SSH (real sshd) and in Docker (real
// engine), and the local store driven the same way. It holds only tests.
package undosuite
