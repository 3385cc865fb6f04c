//go:build !integration

package undo

// propertyRuns is how many random histories TestRestoreProperty plays;
// the integration tier (-tags integration) plays 200.
const propertyRuns = 20
