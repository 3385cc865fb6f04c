//go:build integration

package undo

// propertyRuns is how many random histories TestRestoreProperty plays in
// the integration tier.
const propertyRuns = 200
