package main

import (
	"context"
	"fmt"
	"io"
)

// The demo and export verification are wired by the lead once the
// recorder and export packages land.

func runVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCLI("verify", "verify PATH [--passphrase-file F] [--extract DIR]", `
Check an export package: decrypt it, check the appliance's signature on the
manifest and the SHA-256 of every file. Exits 0 only if the package is
intact. With --extract, also writes the plain files into DIR.`)
	c.str("passphrase-file", "", "FILE", "file holding the export passphrase")
	c.str("extract", "", "DIR", "directory to write the checked files into")
	if _, code, done := c.parse(args, stdout, stderr); done {
		return code
	}
	fmt.Fprintln(stderr, "mimamori verify: not available yet")
	return 2
}
