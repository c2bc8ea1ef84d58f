package capture

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/elastic/go-libaudit/v2/rule"
)

// ruleSyscalls returns the -S list of an auditctl line.
func ruleSyscalls(t *testing.T, line string) []string {
	t.Helper()
	f := strings.Fields(line)
	i := slices.Index(f, "-S")
	if i < 0 || i+1 >= len(f) {
		t.Fatalf("no -S in %q", line)
	}
	return strings.Split(f[i+1], ",")
}

func TestRulesDefaultBuild(t *testing.T) {
	const self = 4242
	lines := DefaultRules(self)
	if _, ok := ruleArches[runtime.GOARCH]; !ok {
		if lines != nil {
			t.Fatalf("DefaultRules on %s = %q, want nil", runtime.GOARCH, lines)
		}
		t.Skipf("no syscall tables for %s", runtime.GOARCH)
	}
	if len(lines) == 0 {
		t.Fatal("no default rules")
	}
	wfs, err := BuildRules(lines)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "-a always,exit -F arch=b") {
			t.Errorf("rule %q does not start with its list, action and arch", l)
		}
		if !strings.Contains(l, " -F pid!=4242 ") {
			t.Errorf("rule %q does not exclude the recorder", l)
		}
		keys, err := ruleKeys(wfs[i])
		if err != nil || !slices.Equal(keys, []string{RuleKey}) {
			t.Errorf("rule %q: keys %q, %v; want [ctrace]", l, keys, err)
		}
		if !ruleIsCtrace(wfs[i]) {
			t.Errorf("rule %q not recognised as ctrace's", l)
		}
		// The kernel lists it back like this (checked by the integration
		// tests): the arch is kept, and the syscalls survive the round trip.
		back, err := rule.ToCommandLine(wfs[i], false)
		if err != nil {
			t.Fatalf("ToCommandLine(%q): %v", l, err)
		}
		want := ruleSyscalls(t, l)
		got := ruleSyscalls(t, back)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("rule %q decodes to syscalls %q", l, got)
		}
	}
	t.Logf("default rules:\n%s", strings.Join(lines, "\n"))
}

func TestRulesDefaultAmd64(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("amd64 only")
	}
	lines := DefaultRules(1)
	var b64, b32 []string
	for _, l := range lines {
		switch {
		case strings.Contains(l, "-F arch=b64 "):
			b64 = append(b64, l)
		case strings.Contains(l, "-F arch=b32 "):
			b32 = append(b32, l)
		}
	}
	// One unfiltered rule plus open and openat with the write-intent
	// filter, the directory opens, the two duplicating fcntl commands, the
	// signals (kill and tkill, tgkill), the three ptrace attach requests
	// and fchmodat2 (on its own: older auditctl do not know it), per ABI.
	if len(b64) != 12 || len(b32) != 12 || len(lines) != 24 {
		t.Fatalf("want 12 native + 12 compat rules, got:\n%s", strings.Join(lines, "\n"))
	}
	for _, set := range [][]string{b64, b32} {
		plain := ruleSyscalls(t, set[0])
		for _, s := range []string{"clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group",
			"pivot_root", "chroot", "setns", "unshare", "mount", "openat2", "creat", "rename", "renameat",
			"renameat2", "unlink", "unlinkat", "truncate", "ftruncate", "link", "linkat", "symlink",
			"symlinkat", "mknod", "mknodat", "mkdir", "mkdirat", "rmdir", "chmod", "fchmod", "fchmodat",
			"chown", "fchown", "fchownat", "lchown", "dup", "dup2", "dup3", "memfd_create", "pipe", "pipe2",
			"setuid", "setresuid", "setgid", "setresgid", "setgroups", "capset", "pidfd_send_signal",
			"connect", "bind", "listen", "accept", "accept4"} {
			if s == "accept" && strings.Contains(set[0], "arch=b32") {
				continue // i386 has accept4 only (accept is through socketcall)
			}
			if !slices.Contains(plain, s) {
				t.Errorf("%s missing from %q", s, set[0])
			}
		}
		if slices.Contains(plain, "open") || slices.Contains(plain, "openat") {
			t.Errorf("open/openat must only be in the filtered rules: %q", set[0])
		}
		if !strings.Contains(set[1], "-S open -F a1&0x643 ") {
			t.Errorf("want open filtered on a1&0x643: %q", set[1])
		}
		if !strings.Contains(set[2], "-S openat -F a2&0x643 ") {
			t.Errorf("want openat filtered on a2&0x643: %q", set[2])
		}
		if !strings.Contains(set[3], "-S open,openat -F filetype=dir ") {
			t.Errorf("want every open of a directory: %q", set[3])
		}
		if !strings.Contains(set[4], " -F a1=0 ") || !strings.Contains(set[5], " -F a1=1030 ") ||
			!slices.Contains(ruleSyscalls(t, set[4]), "fcntl") {
			t.Errorf("want fcntl F_DUPFD and F_DUPFD_CLOEXEC: %q, %q", set[4], set[5])
		}
		if !strings.Contains(set[6], "-S kill,tkill -F a1!=0 -F a1!=23 ") || !strings.Contains(set[7], "-S tgkill -F a2!=0 -F a2!=23 ") {
			t.Errorf("want the signals without probes and Go's SIGURG: %q, %q", set[6], set[7])
		}
		for i, req := range []string{"0", "16", "16902"} { // PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE
			if !strings.Contains(set[8+i], "-S ptrace -F a0="+req+" ") {
				t.Errorf("want ptrace request %s: %q", req, set[8+i])
			}
		}
		if got := ruleSyscalls(t, set[11]); !slices.Equal(got, []string{"fchmodat2"}) {
			t.Errorf("want fchmodat2 alone: %q", set[11])
		}
	}
	if slices.Contains(ruleSyscalls(t, b64[0]), "truncate64") {
		t.Errorf("truncate64 does not exist on x86_64: %q", b64[0])
	}
	for _, s := range []string{"truncate64", "ftruncate64", "chown32", "fchown32", "lchown32"} {
		if !slices.Contains(ruleSyscalls(t, b32[0]), s) {
			t.Errorf("%s missing from the i386 rule %q", s, b32[0])
		}
	}
}

// The arm64 rules cannot be built on another GOARCH (b64 means the running
// arch to go-libaudit), but their text can be checked anywhere.
func TestRulesDefaultArm64Text(t *testing.T) {
	lines := ruleDefaultsFor(ruleArches["arm64"], 7)
	if len(lines) != 23 {
		t.Fatalf("want aarch64: plain + openat + directory openat + 2 fcntl + 2 signals + 3 ptrace + fchmodat2, arm: the same with open; got:\n%s", strings.Join(lines, "\n"))
	}
	native := ruleSyscalls(t, lines[0])
	for _, s := range []string{"fork", "vfork", "open", "creat", "rename", "unlink", "link", "symlink", "mknod", "truncate64"} {
		if slices.Contains(native, s) {
			t.Errorf("%s does not exist on aarch64 but is in %q", s, lines[0])
		}
	}
	for _, s := range []string{"clone", "clone3", "execve", "openat2", "renameat2", "unlinkat", "pivot_root"} {
		if !slices.Contains(native, s) {
			t.Errorf("%s missing from %q", s, lines[0])
		}
	}
	if want := "-a always,exit -F arch=b64 -S openat -F a2&0x643 -F pid!=7 -k ctrace"; lines[1] != want {
		t.Errorf("aarch64 openat rule = %q, want %q", lines[1], want)
	}
	if want := "-a always,exit -F arch=b64 -S openat -F filetype=dir -F pid!=7 -k ctrace"; lines[2] != want {
		t.Errorf("aarch64 directory open rule = %q, want %q", lines[2], want)
	}
	if want := "-a always,exit -F arch=b64 -S fcntl -F a1=0 -F pid!=7 -k ctrace"; lines[3] != want {
		t.Errorf("aarch64 fcntl rule = %q, want %q", lines[3], want)
	}
	if !slices.Contains(ruleSyscalls(t, lines[11]), "fork") || !strings.Contains(lines[12], "-S open -F a1&0x643") ||
		!strings.Contains(lines[13], "-S openat -F a2&0x643") || !strings.Contains(lines[14], "-S open,openat -F filetype=dir") ||
		!strings.Contains(lines[15], "-S fcntl,fcntl64 -F a1=0") || !strings.Contains(lines[20], "-S ptrace -F a0=16 ") ||
		!strings.Contains(lines[22], "-S fchmodat2 -F pid!=7") {
		t.Errorf("arm compat rules incomplete:\n%s", strings.Join(lines[11:], "\n"))
	}
}

func TestRulesParseFile(t *testing.T) {
	dir := t.TempDir()
	spaced := filepath.Join(dir, "my data")
	if err := os.Mkdir(spaced, 0o755); err != nil {
		t.Fatal(err)
	}
	file := `# ctrace extra rules
# (a realistic audit.rules excerpt)

-w /etc/passwd -p wa -k identity
-w /etc/sudoers -p wa
-w '` + spaced + `' -p w
-a always,exit -F arch=b64 -S chmod,fchmod,fchmodat -F auid>=1000 -F auid!=unset -k perm_mod
-a exit,always -F arch=b64 -S sethostname -F key=system-locale
  -a always,exit -F arch=b64 -S init_module -S finit_module -k modules -k ctrace
-a never,exit -F arch=b64 -S mknod -F dir=/dev
-a always,user -F uid=0
-A always,exit -F arch=b32 -S execve -C uid!=euid
`
	got, err := ParseRulesFile(strings.NewReader(file), "extra.rules", 99)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-w /etc/passwd -p wa -k identity -k ctrace",
		"-w /etc/sudoers -p wa -k ctrace",
		"-w '" + spaced + "' -p w -k ctrace",
		"-a always,exit -F arch=b64 -S chmod,fchmod,fchmodat -F auid>=1000 -F auid!=unset -F pid!=99 -k perm_mod -k ctrace",
		"-a always,exit -F arch=b64 -S sethostname -F pid!=99 -k system-locale -k ctrace",
		"-a always,exit -F arch=b64 -S init_module,finit_module -F pid!=99 -k modules -k ctrace",
		"-a never,exit -F arch=b64 -S mknod -F dir=/dev -k ctrace",
		"-a always,user -F uid=0 -k ctrace",
		"-A always,exit -F arch=b32 -S execve -C uid!=euid -F pid!=99 -k ctrace",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseRulesFile:\n got %q\nwant %q", got, want)
	}
	wfs, err := BuildRules(got)
	if err != nil {
		t.Fatal(err)
	}
	for i, wf := range wfs {
		if !ruleIsCtrace(wf) {
			t.Errorf("rule %q has no ctrace key", got[i])
		}
	}
	// Several keys are one kernel string separated by \x01.
	keys, err := ruleKeys(wfs[3])
	if err != nil || !slices.Equal(keys, []string{"perm_mod", "ctrace"}) {
		t.Errorf("keys of %q = %q, %v", got[3], keys, err)
	}
	if d := ruleDescribe(wfs[3]); !strings.HasSuffix(d, " -k perm_mod -k ctrace") || strings.Contains(d, "\x01") {
		t.Errorf("ruleDescribe = %q", d)
	}
	if d := ruleDescribe(wfs[0]); d != "-w /etc/passwd -p wa -k identity -k ctrace" {
		t.Errorf("ruleDescribe(watch) = %q", d)
	}
}

func TestRulesParseFileRejects(t *testing.T) {
	for _, tc := range []struct {
		line, want string
	}{
		{"-D", "-D deletes all rules"},
		{"-D -k ctrace", "-D deletes all rules"},
		{"-e 2", "-e sets the enabled flag"},
		{"-e 1", "-e sets the enabled flag"},
		{"-b 8192", "-b sets the backlog limit"},
		{"-f 2", "-f sets the failure mode"},
		{"-r 100", "-r sets the rate limit"},
		{"--backlog_wait_time 60000", "--backlog_wait_time sets the backlog wait time"},
		{"--backlog_wait_time=0", "--backlog_wait_time=0 sets the backlog wait time"},
		{"-i", "-i changes how auditctl handles errors"},
		{"--loginuid-immutable", "locks loginuid"},
		{"-d always,exit -S open", "-d deletes a rule"},
		{"-a always,exit -F arch=b64 -S nosuchcall -k x", "unknown syscall 'nosuchcall'"},
		{"-w /etc/passwd -p wa stray -k x", `unexpected argument "stray"`},
		{"-a always,exit -F arch=b64 -S open -k", "needs a value"},
		{"-a always,exit -X 1", "unknown option -X"},
		{"-a always,exit -S open -F key!=x", "key only supports ="},
		{"-a always,exclude -F msgtype=CWD", "exclude list cannot carry a key"},
		{"-a always,exit -F arch=b64 -S open -k '" + strings.Repeat("k", 300) + "'", "cannot be longer"},
	} {
		file := "# header\n\n-w /etc/passwd -p wa\n" + tc.line + "\n"
		_, err := ParseRulesFile(strings.NewReader(file), "/etc/ctrace/x.rules", 1)
		if err == nil {
			t.Errorf("%q: accepted", tc.line)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "capture: /etc/ctrace/x.rules:4: ") || !strings.Contains(msg, tc.want) {
			t.Errorf("%q: error %q, want file:line and %q", tc.line, msg, tc.want)
		}
	}
}

func TestRulesBuildRulesError(t *testing.T) {
	_, err := BuildRules([]string{"-a always,exit -F arch=b64 -S execve -k ctrace", "-a always,exit -S bogus"})
	if err == nil || !strings.Contains(err.Error(), `capture: rule "-a always,exit -S bogus"`) {
		t.Fatalf("error %v does not name the line", err)
	}
	if _, err := BuildRules([]string{"-D"}); err == nil {
		t.Fatal("-D accepted")
	}
}

func TestRulesJoinArgsRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		{"-w", "/a b/c's", "-p", "wa", "-k", "x"},
		{"-a", "always,exit", "-F", "a1&0x643", "-F", "pid!=3", "-F", "auid>=1000"},
		{"-k", ""},
	} {
		line := ruleJoinArgs(args)
		if err := ruleCheckTokens(line); err != nil {
			t.Errorf("%q: %v", line, err)
		}
	}
	if got := ruleJoinArgs([]string{"-F", "a1&0x643", "-w", "/a b"}); got != "-F a1&0x643 -w '/a b'" {
		t.Errorf("ruleJoinArgs = %q", got)
	}
}

func TestRulesPrepend(t *testing.T) {
	wfs, err := BuildRules([]string{
		"-A always,exit -F arch=b64 -S execve -k ctrace",
		"-a always,exit -F arch=b64 -S execve -k ctrace",
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(wfs[0], wfs[1]) {
		t.Fatal("-A built like -a: go-libaudit ignores it, BuildRules must set AUDIT_FILTER_PREPEND")
	}
	if !bytes.Equal(ruleStored(wfs[0]), wfs[1]) || !bytes.Equal(ruleStored(wfs[1]), wfs[1]) {
		t.Error("ruleStored does not just clear AUDIT_FILTER_PREPEND")
	}
}
