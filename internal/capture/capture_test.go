package capture

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		argv      []string
		kind, cmd string
	}{
		{[]string{"sh", "-c", "echo hi; ls"}, "c", "echo hi; ls"},
		{[]string{"bash", "-lc", "make test", "name", "arg"}, "c", "make test"},
		{[]string{"/bin/zsh", "-c", "-l", "echo x"}, "c", "echo x"},
		{[]string{"bash", "-e", "-c", "x"}, "c", "x"},
		{[]string{"bash", "-c"}, "c", ""},
		{[]string{"bash", "build.sh", "--fast"}, "script", "build.sh --fast"},
		{[]string{"bash", "-x", "script.sh"}, "script", "script.sh"},
		{[]string{"bash"}, "", ""},
		{[]string{"bash", "-i"}, "", ""},
		{[]string{"bash", "-l"}, "", ""},
		{[]string{"bash", "--", "-c"}, "", ""},
		{[]string{"bash", "--norc", "--noprofile"}, "", ""},
	} {
		if kind, cmd := Parse(c.argv); kind != c.kind || cmd != c.cmd {
			t.Errorf("%q: %q %q, want %q %q", c.argv, kind, cmd, c.kind, c.cmd)
		}
	}
}

func TestShebang(t *testing.T) {
	for _, c := range []struct {
		head string
		want []string
	}{
		{"#!/bin/sh\necho hi\n", []string{"/bin/sh"}},
		{"#!/bin/bash -e\n", []string{"/bin/bash", "-e"}},
		{"#! /bin/bash -e -u\n", []string{"/bin/bash", "-e -u"}},
		{"#!/usr/bin/env bash\n", []string{"bash"}},
		{"#!/usr/bin/env python3\n", []string{"python3"}},
		{"\x7fELF\x02\x01\x01", nil},
		{"echo no shebang\n", nil},
		{"#!\n", nil},
	} {
		if got := shebang([]byte(c.head)); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: %q, want %q", c.head, got, c.want)
		}
	}
}
