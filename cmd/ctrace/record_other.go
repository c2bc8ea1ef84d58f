//go:build !linux

package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func runRecord(*cli.Context, recordOptions) error {
	return errors.New("recording needs Linux (kernel audit and the proc connector); captures can be analyzed anywhere")
}
