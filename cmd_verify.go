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

	"mimamori/core"
	"mimamori/recorder/export"
)

// exitUnauthenticated: the files match their manifest, but no appliance
// key was given, so nothing says the appliance made them.
const exitUnauthenticated = 3

func runVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("verify", "verify PATH (--identity FILE | --passphrase-file F) --key FINGERPRINT [--package-sha256 HEX] [--extract DIR]", `
Check an export package: decrypt it, check the signature on the manifest
against the appliance key you were given (--key: the fingerprint printed on
the handover receipt, SHA256:...) and the SHA-256 of every file. Exits 0
only if the package is intact and signed by that key; 1 if anything is
wrong; 3 if the files match their manifest but no --key was given (anyone
able to decrypt the package could have re-signed it, so it is not reported
as authentic). Decrypt with --identity: the package secret the manager gave
you (saved to a file), your age identity or your unencrypted SSH private
key; packages of older appliances use --passphrase-file. With --extract
(needs --key), the checked files are written into DIR; nothing is left
there if the check fails. With --package-sha256 (the SHA-256 on the
handover receipt) the file must also be that very package; its SHA-256
is printed either way, to compare with the receipt.`)
	passFile := c.str("passphrase-file", "", "FILE", "file holding the export passphrase (first line; packages of older appliances)")
	idFile := c.str("identity", "", "FILE", "package secret (AGE-SECRET-KEY-1...), age identity file or unencrypted SSH private key")
	extract := c.str("extract", "", "DIR", "directory to write the checked files into (needs --key)")
	key := c.str("key", "", "FINGERPRINT", "the appliance key's fingerprint from the handover receipt (SHA256:...)")
	expect := c.str("expect-key", "", "FINGERPRINT", "older name of --key")
	pkgSum := c.str("package-sha256", "", "HEX", "the package's SHA-256 from the handover receipt")
	pos, code, done := c.parse(args, stdout, stderr)
	if done {
		return code
	}
	if *key == "" {
		key = expect
	}
	if len(pos) != 1 || (*passFile == "") == (*idFile == "") {
		fmt.Fprintln(stderr, "mimamori verify: need one PATH and exactly one of --passphrase-file or --identity")
		fmt.Fprintln(stderr)
		c.usage(stderr)
		return 2
	}
	if *extract != "" && strings.TrimSpace(*key) == "" {
		fmt.Fprintln(stderr, "mimamori verify: --extract needs --key: only an authentic package is extracted")
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
	rep, err := export.Verify(f, export.Options{Identities: ids, Key: *key, ExtractDir: *extract, PackageSHA256: *pkgSum})
	if err != nil {
		fmt.Fprintf(stderr, "mimamori verify: %v\n", err)
		return 1
	}
	printReport(stdout, rep)
	if !rep.Intact {
		fmt.Fprintf(stderr, "mimamori verify: %s is NOT intact:\n", pos[0])
		for _, p := range rep.Problems {
			fmt.Fprintf(stderr, "  - %s\n", core.CleanLine(p, 2000))
		}
		return 1
	}
	if !rep.Authentic {
		fmt.Fprintf(stdout, "files match the manifest, but the package is NOT authenticated: it names key %s;\n", core.CleanLine(rep.Fingerprint, 200))
		fmt.Fprintln(stdout, "check it against the appliance key on the handover receipt with --key FINGERPRINT")
		fmt.Fprintf(stderr, "mimamori verify: %s not authenticated: no --key given\n", pos[0])
		return exitUnauthenticated
	}
	fmt.Fprintf(stdout, "package authentic and intact: signed by the appliance key %s, %d files match the manifest\n",
		rep.Fingerprint, len(rep.Manifest.Files))
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
	if rep.PackageSHA256 != "" {
		fmt.Fprintf(w, "package     sha256 %s, %d bytes (the handover receipt lists it)\n", rep.PackageSHA256, rep.PackageBytes)
	}
	m := rep.Manifest
	if m == nil {
		return
	}
	t := func(x time.Time) string { return x.UTC().Format(time.RFC3339Nano) }
	// Every string below is the package's own claim, printed before (and
	// whether or not) its signature checks out: a forged package must not
	// reach the reader's terminal with escapes or reordered text.
	q := func(s string) string { return core.CleanLine(s, 4000) }
	fmt.Fprintf(w, "request     %s\n", q(m.Request.ID))
	fmt.Fprintf(w, "agency      %s (%s)\n", q(m.Request.Agency), q(m.Request.Representative))
	fmt.Fprintf(w, "purpose     %s, ground %s\n", q(m.Request.Purpose), q(m.Request.Ground))
	fmt.Fprintf(w, "requested   %s .. %s\n", t(m.Request.From), t(m.Request.To))
	// What was approved is per camera: exactly what the search found, or
	// the part the manager narrowed to (000 §9-2, §9-4).
	for _, c := range m.Cameras {
		fmt.Fprintf(w, "approved    %s %s .. %s by %s\n", q(c.Camera), t(c.ApprovedFrom), t(c.ApprovedTo), q(m.Approver))
	}
	fmt.Fprintf(w, "exported    %s by %s\n", t(m.FinishedAt), q(m.Operator))
	fmt.Fprintf(w, "appliance   %s (mimamori %s), ledger seq %d\n", q(m.ApplianceID), q(m.SoftwareVersion), m.LedgerSeq)
	if e := m.Encryption; e.Method != "" {
		fmt.Fprintf(w, "protected   %s\n", q(e.Method))
	}
	signer := rep.Fingerprint
	switch {
	case signer == "":
		signer = q(m.Signer.Fingerprint) + " (signature NOT valid)"
	case rep.Authentic:
		signer += " (the appliance key given with --key)"
	default:
		signer += " (the package's own claim: not checked against the appliance key)"
	}
	fmt.Fprintf(w, "signed by   %s\n", signer)
	fmt.Fprintf(w, "manifest    sha256 %s\n", rep.ManifestSHA)
	switch cp := rep.Checkpoint; {
	case cp != nil:
		fmt.Fprintf(w, "ledger      checkpoint %s size %d root %s (%s), %d of the request's entries proven in it, its approval among them\n",
			q(cp.Origin), cp.Size, cp.ShortRoot(), cp.Time.UTC().Format(time.RFC3339), rep.Proven)
		fmt.Fprintln(w, "            (keep manifest.json: \"mimamori ledger verify --checkpoint manifest.json\" checks the appliance's ledger against it)")
	case m.Ledger == nil:
		fmt.Fprintln(w, "ledger      none: this package carries no ledger checkpoint")
	}
	for _, c := range m.Cameras {
		if len(c.Actual) == 0 {
			fmt.Fprintf(w, "camera      %s: %s\n", q(c.Camera), q(c.NoFootageNote))
			continue
		}
		for _, a := range c.Actual {
			fmt.Fprintf(w, "camera      %s: %s .. %s in %s\n", q(c.Camera), t(a.From), t(a.To), q(a.File))
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
		fmt.Fprintf(w, "file        %-14s %12d bytes  sha256 %s  %s\n", q(f.Name), f.Bytes, q(f.SHA256), status)
	}
	if rep.Extracted != "" {
		fmt.Fprintf(w, "extracted   %s\n", rep.Extracted)
	}
}
