//go:build linux

package groundtruth

import (
	"testing"

	"github.com/elastic/go-libaudit/v2/auparse"
)

func TestSyscallTable(t *testing.T) {
	for arch, table := range syscallNames {
		name := auparse.AuditArch(arch).String()
		if name != archNames[arch] {
			t.Errorf("arch %#x is %q, the table says %q", arch, name, archNames[arch])
		}
		for nr, sc := range table {
			if got := auparse.AuditSyscalls[name][nr]; got != sc {
				t.Errorf("%s syscall %d is %q, the table says %q", name, nr, got, sc)
			}
		}
	}
}
