//go:build !linux

// Command record is `make bench-record`, the recorder benchmark; it needs
// Linux (kernel audit).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench-record: Linux only (kernel audit)")
	os.Exit(1)
}
