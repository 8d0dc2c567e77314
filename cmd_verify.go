package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"

	"mimamori/recorder/export"
)

func runVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("verify", "verify PATH (--passphrase-file F | --identity FILE) [--extract DIR] [--expect-key FINGERPRINT]", `
Check an export package: decrypt it, check the appliance's signature on the
manifest and the SHA-256 of every file. Exits 0 only if the package is
intact. Compare the signer key fingerprint it prints with the one the
appliance showed (or pass it as --expect-key). With --extract, also writes
the checked files into DIR (nothing is left there if the check fails).`)
	passFile := c.str("passphrase-file", "", "FILE", "file holding the export passphrase (first line)")
	idFile := c.str("identity", "", "FILE", "age identity file or unencrypted SSH private key to decrypt with")
	extract := c.str("extract", "", "DIR", "directory to write the checked files into")
	expect := c.str("expect-key", "", "FINGERPRINT", "fail unless the manifest is signed by this key (SHA256:...)")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if len(pos) != 1 || (*passFile == "") == (*idFile == "") {
		fmt.Fprintln(stderr, "mimamori verify: need one PATH and exactly one of --passphrase-file or --identity")
		fmt.Fprintln(stderr)
		c.usage(stderr)
		return 2
	}
	ids, err := verifyIdentities(*passFile, *idFile)
	if err != nil {
		fmt.Fprintf(stderr, "mimamori verify: %v\n", err)
		return 1
	}
	if *extract != "" {
		if err := os.MkdirAll(*extract, 0o700); err != nil {
			fmt.Fprintf(stderr, "mimamori verify: %v\n", err)
			return 1
		}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "mimamori verify: %v\n", err)
		return 1
	}
	defer f.Close()
	rep, err := export.Verify(f, ids, *extract)
	if err != nil {
		fmt.Fprintf(stderr, "mimamori verify: %v\n", err)
		return 1
	}
	if *expect != "" && rep.Fingerprint != "" && rep.Fingerprint != strings.TrimSpace(*expect) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("signed by %s, expected %s", rep.Fingerprint, strings.TrimSpace(*expect)))
		rep.Intact = false
	}
	printReport(stdout, rep)
	if !rep.Intact {
		fmt.Fprintf(stderr, "mimamori verify: %s is NOT intact:\n", pos[0])
		for _, p := range rep.Problems {
			fmt.Fprintf(stderr, "  - %s\n", p)
		}
		return 1
	}
	fmt.Fprintf(stdout, "package intact: signature valid, %d files match the manifest\n", len(rep.Manifest.Files))
	return 0
}

// verifyIdentities reads the passphrase file or the identity file.
func verifyIdentities(passFile, idFile string) ([]age.Identity, error) {
	if passFile != "" {
		b, err := os.ReadFile(passFile)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		pass, _, _ := bytes.Cut(b, []byte("\n"))
		pass = bytes.TrimSuffix(pass, []byte("\r"))
		if len(pass) == 0 {
			return nil, fmt.Errorf("passphrase file %s is empty", passFile)
		}
		id, err := age.NewScryptIdentity(string(pass))
		if err != nil {
			return nil, err
		}
		return []age.Identity{id}, nil
	}
	b, err := os.ReadFile(idFile)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		id, err := agessh.ParseIdentity(b)
		if err != nil {
			return nil, fmt.Errorf("identity file %s: %w", idFile, err)
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", idFile, err)
	}
	return ids, nil
}

func printReport(w io.Writer, rep *export.Report) {
	m := rep.Manifest
	if m == nil {
		return
	}
	t := func(x time.Time) string { return x.UTC().Format(time.RFC3339) }
	fmt.Fprintf(w, "request     %s\n", m.Request.ID)
	fmt.Fprintf(w, "agency      %s (%s)\n", m.Request.Agency, m.Request.Representative)
	fmt.Fprintf(w, "purpose     %s, ground %s\n", m.Request.Purpose, m.Request.Ground)
	fmt.Fprintf(w, "approved    %s .. %s by %s\n", t(m.Request.From), t(m.Request.To), m.Approver)
	fmt.Fprintf(w, "exported    %s by %s\n", t(m.FinishedAt), m.Operator)
	fmt.Fprintf(w, "appliance   %s (mimamori %s), ledger seq %d\n", m.ApplianceID, m.SoftwareVersion, m.LedgerSeq)
	signer := rep.Fingerprint
	if signer == "" {
		signer = m.Signer.Fingerprint + " (NOT verified)"
	}
	fmt.Fprintf(w, "signed by   %s\n", signer)
	fmt.Fprintf(w, "manifest    sha256 %s\n", rep.ManifestSHA)
	for _, c := range m.Cameras {
		if len(c.Actual) == 0 {
			fmt.Fprintf(w, "camera      %s: %s\n", c.Camera, c.NoFootageNote)
			continue
		}
		for _, a := range c.Actual {
			fmt.Fprintf(w, "camera      %s: %s .. %s in %s\n", c.Camera, t(a.From), t(a.To), a.File)
		}
	}
	for _, f := range m.Files {
		status := "ok"
		got, found := rep.Found[f.Name]
		switch {
		case !found:
			status = "MISSING"
		case got.SHA256 != f.SHA256 || got.Bytes != f.Bytes:
			status = "MISMATCH"
		}
		fmt.Fprintf(w, "file        %-14s %12d bytes  sha256 %s  %s\n", f.Name, f.Bytes, f.SHA256, status)
	}
	if rep.Extracted != "" {
		fmt.Fprintf(w, "extracted   %s\n", rep.Extracted)
	}
}
