//go:build !windows

package local_test

import (
	"testing"

	"github.com/execkit/execkit/transport/local"
	"github.com/execkit/execkit/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, local.New(), transporttest.Options{TTY: true})
}
