package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/execkit/execkit/internal/testbuild"
)

// TestSBOM: the document for a binary with dependencies (execkit, built
// here) has SPDX 2.3's required fields, one package per module with a
// package URL, unique ids, and a relationship for each.
func TestSBOM(t *testing.T) {
	bin := testbuild.Program(t, "../../cmd/execkit-core", "", "execkit-core")
	doc, err := build(bin, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" ||
		!strings.HasPrefix(doc.DocumentNamespace, "https://") || doc.CreationInfo.Created != "2026-12-03T00:00:00Z" {
		t.Errorf("document: %+v", doc)
	}
	if len(doc.Packages) < 20 || len(doc.Relationships) != len(doc.Packages) {
		t.Fatalf("%d packages, %d relationships", len(doc.Packages), len(doc.Relationships))
	}
	id := regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	seen := map[string]bool{}
	for i, p := range doc.Packages {
		if !id.MatchString(p.SPDXID) || seen[p.SPDXID] || p.DownloadLocation == "" {
			t.Errorf("package %+v", p)
		}
		seen[p.SPDXID] = true
		if i > 0 && (len(p.ExternalRefs) != 1 || p.ExternalRefs[0].ReferenceLocator != "pkg:golang/"+p.Name+"@"+p.VersionInfo) {
			t.Errorf("package %+v", p)
		}
	}
	if len(doc.Packages[0].Checksums) != 1 || len(doc.Packages[0].Checksums[0].ChecksumValue) != 64 {
		t.Errorf("main package %+v", doc.Packages[0])
	}
}
