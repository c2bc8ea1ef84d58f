package groundtruth

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Workloads returns the names of the workloads in dir (testdata/workloads):
// one per .c file, sorted.
func Workloads(dir string) ([]string, error) {
	srcs, err := filepath.Glob(filepath.Join(dir, "*.c"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range srcs {
		names = append(names, strings.TrimSuffix(filepath.Base(s), ".c"))
	}
	slices.Sort(names)
	return names, nil
}

// CompileWorkload compiles dir/name.c into outDir/name with gcc -O0 -pthread
// and returns the binary's path. Warnings are errors: the workloads are
// meant to compile cleanly.
func CompileWorkload(dir, name, outDir string) (string, error) {
	bin := filepath.Join(outDir, name)
	cmd := exec.Command("gcc", "-O0", "-pthread", "-Wall", "-Wextra", "-Werror", "-o", bin, filepath.Join(dir, name+".c"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("groundtruth: compiling %s: %w\n%s", name, err, out.String())
	}
	return bin, nil
}
