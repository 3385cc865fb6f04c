// Command sbom writes an SPDX 2.3 (JSON) software bill of materials for a
// Go binary: the main module and every module compiled into it, as the
// binary's build information lists them, each with its package URL.
//
//	go run ./internal/sbom BINARY > BINARY.spdx.json
package main

import (
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/execkit/execkit/internal/filehash"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sbom BINARY")
		os.Exit(64)
	}
	doc, err := build(os.Args[1], time.Now().UTC())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintln(os.Stderr, "sbom:", err)
		os.Exit(1)
	}
}

type document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      creationInfo   `json:"creationInfo"`
	Packages          []pkg          `json:"packages"`
	Relationships     []relationship `json:"relationships"`
}

type creationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type pkg struct {
	Name             string        `json:"name"`
	SPDXID           string        `json:"SPDXID"`
	VersionInfo      string        `json:"versionInfo,omitempty"`
	DownloadLocation string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	Checksums        []checksum    `json:"checksums,omitempty"`
	ExternalRefs     []externalRef `json:"externalRefs,omitempty"`
	Comment          string        `json:"comment,omitempty"`
}

type checksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type externalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

var idChars = regexp.MustCompile(`[^A-Za-z0-9.-]`)

// build reads the binary's build information and describes it.
func build(bin string, now time.Time) (*document, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	raw, err := filehash.SHA256(bin)
	if err != nil {
		return nil, err
	}
	sum := hex.EncodeToString(raw[:])
	name := filepath.Base(bin)
	doc := &document{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: name,
		DocumentNamespace: "https://spdx.org/spdxdocs/" + name + "-" + sum[:16],
		CreationInfo:      creationInfo{Created: now.Format(time.RFC3339), Creators: []string{"Tool: execkit-sbom", "Tool: " + info.GoVersion}},
	}
	mainID := "SPDXRef-Package-" + idChars.ReplaceAllString(name, "-")
	doc.Packages = append(doc.Packages, pkg{
		Name: info.Main.Path, SPDXID: mainID, VersionInfo: info.Main.Version, DownloadLocation: "NOASSERTION",
		Checksums: []checksum{{"SHA256", sum}},
		Comment:   "the binary " + name + ", built by " + info.GoVersion,
	})
	doc.Relationships = append(doc.Relationships, relationship{"SPDXRef-DOCUMENT", "DESCRIBES", mainID})
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		id := "SPDXRef-Package-" + idChars.ReplaceAllString(m.Path+"-"+m.Version, "-")
		doc.Packages = append(doc.Packages, pkg{
			Name: m.Path, SPDXID: id, VersionInfo: m.Version, DownloadLocation: "https://proxy.golang.org/" + m.Path + "/@v/" + m.Version + ".zip",
			ExternalRefs: []externalRef{{"PACKAGE-MANAGER", "purl", "pkg:golang/" + m.Path + "@" + m.Version}},
			Comment:      "go.sum " + m.Sum,
		})
		doc.Relationships = append(doc.Relationships, relationship{mainID, "DEPENDS_ON", id})
	}
	return doc, nil
}
