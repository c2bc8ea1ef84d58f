package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/elastic/go-libaudit/v2/auparse"
	"github.com/elastic/go-libaudit/v2/rule"
	"github.com/elastic/go-libaudit/v2/rule/flags"
	"github.com/kballard/go-shellquote"
)

// RuleKey is the audit key carried by every rule ctrace loads. Rules are
// recognised as ctrace's by this key (see AuditControl.RemoveStaleRules).
const RuleKey = "ctrace"

// ruleOpenWriteFlags is O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND (the same
// values on x86, i386, arm and arm64): an open with any of these bits may
// change the file system, one without only reads.
const ruleOpenWriteFlags = "0x643"

// ruleArch is one syscall ABI of the running architecture: the value of
// `-F arch=` and the name of go-libaudit's syscall table for it.
type ruleArch struct {
	flag  string // "b64" or "b32"
	table string // key of auparse.AuditSyscalls
}

// ruleArches lists, per GOARCH, the native ABI first, then the 32-bit compat
// ABI when go-libaudit has a table for it.
var ruleArches = map[string][]ruleArch{
	"amd64": {{"b64", "x86_64"}, {"b32", "i386"}},
	"arm64": {{"b64", "aarch64"}, {"b32", "arm"}},
	"386":   {{"b32", "i386"}},
	"arm":   {{"b32", "arm"}},
}

// ruleDefaultSyscalls are audited without argument filters. Syscalls missing
// from an ABI's table (fork, open, rename... on arm64, truncate64 on 64-bit
// ABIs) are left out of that ABI's rule.
var ruleDefaultSyscalls = []string{
	// process lifecycle
	"clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group",
	// containers
	"pivot_root", "chroot", "setns", "unshare", "mount",
	// file effects (open and openat get their own filtered rules)
	"openat2", "creat",
	"rename", "renameat", "renameat2",
	"unlink", "unlinkat",
	"truncate", "ftruncate", "truncate64", "ftruncate64",
	"link", "linkat", "symlink", "symlinkat",
	"mknod", "mknodat",
	"mkdir", "mkdirat", "rmdir",
	// metadata: a file made executable, or given to another owner
	"chmod", "fchmod", "fchmodat",
	"chown", "fchown", "fchownat", "lchown", "chown32", "fchown32", "lchown32",
	// descriptors: so that a number in the analyzer's descriptor table is
	// never silently taken by another file (see ruleFilteredSyscalls)
	"dup", "dup2", "dup3", "memfd_create", "pipe", "pipe2",
	// identity: credential changes
	"setuid", "setreuid", "setresuid", "setfsuid", "setgid", "setregid", "setresgid", "setfsgid",
	"setgroups", "capset",
	"setuid32", "setreuid32", "setresuid32", "setfsuid32", "setgid32", "setregid32", "setresgid32",
	"setfsgid32", "setgroups32",
	"pidfd_send_signal", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	// network endpoints
	"connect", "bind", "listen", "accept", "accept4",
}

// ruleFilteredSyscalls are audited only when a filter matches: the open
// calls that may change the file system (the flags ask for write access) or
// that open a directory (whatever the flags: names relative to a directory
// descriptor are resolved through the directory's open), and the fcntl
// commands that duplicate a descriptor (F_DUPFD, F_DUPFD_CLOEXEC). Syscalls
// with the same filter share a rule.
var ruleFilteredSyscalls = []struct {
	syscalls []string
	filter   string
}{
	{[]string{"open"}, "-F a1&" + ruleOpenWriteFlags},
	{[]string{"openat"}, "-F a2&" + ruleOpenWriteFlags},
	{[]string{"open", "openat"}, "-F filetype=dir"},
	{[]string{"fcntl", "fcntl64"}, "-F a1=0"},
	{[]string{"fcntl", "fcntl64"}, "-F a1=1030"},
	// signals: not the probes (signal 0), nor the SIGURG (23) by which Go's
	// runtime preempts its own threads, many times a second
	{[]string{"kill", "tkill"}, "-F a1!=0 -F a1!=23"},
	{[]string{"tgkill"}, "-F a2!=0 -F a2!=23"},
	// ptrace attaches: PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE (not the
	// many requests of a tracer at work)
	{[]string{"ptrace"}, "-F a0=0"},
	{[]string{"ptrace"}, "-F a0=16"},
	{[]string{"ptrace"}, "-F a0=16902"},
	// Newer syscalls in a rule of their own, so that a rules file made of
	// these lines still loads, all but this line, with an auditctl that does
	// not know them (fchmodat2: Linux 6.6).
	{[]string{"fchmodat2"}, ""},
}

// DefaultRules returns ctrace's default audit rules as auditctl-style lines,
// for the native ABI and, where the kernel can run them, 32-bit compat
// binaries (-F arch=b32 on amd64 and arm64). Each rule carries key RuleKey
// and excludes the recorder itself (-F pid!=selfPID). It returns nil on an
// architecture go-libaudit has no syscall table for.
func DefaultRules(selfPID int) []string {
	return ruleDefaultsFor(ruleArches[runtime.GOARCH], selfPID)
}

// ruleDefaultsFor builds the default rules for the given ABIs.
func ruleDefaultsFor(arches []ruleArch, selfPID int) []string {
	var lines []string
	for _, arch := range arches {
		known := ruleSyscallNames(arch.table)
		if known == nil {
			continue
		}
		head := "-a always,exit -F arch=" + arch.flag
		tail := fmt.Sprintf("-F pid!=%d -k %s", selfPID, RuleKey)

		var plain []string
		for _, s := range ruleDefaultSyscalls {
			if known[s] {
				plain = append(plain, s)
			}
		}
		if len(plain) > 0 {
			lines = append(lines, fmt.Sprintf("%s -S %s %s", head, strings.Join(plain, ","), tail))
		}
		for _, f := range ruleFilteredSyscalls {
			var names []string
			for _, s := range f.syscalls {
				if known[s] {
					names = append(names, s)
				}
			}
			if len(names) > 0 {
				filter := ""
				if f.filter != "" {
					filter = " " + f.filter
				}
				lines = append(lines, fmt.Sprintf("%s -S %s%s %s", head, strings.Join(names, ","), filter, tail))
			}
		}
	}
	return lines
}

// ruleSyscallNames returns the set of syscall names of a go-libaudit table, or
// nil when there is no such table.
func ruleSyscallNames(table string) map[string]bool {
	byNum, ok := auparse.AuditSyscalls[table]
	if !ok {
		return nil
	}
	names := make(map[string]bool, len(byNum))
	for _, name := range byNum {
		names[name] = true
	}
	return names
}

// ruleGlobalOptions are auditctl options that change or query the audit
// system as a whole instead of adding a rule, with what they would do.
// A rules file given to ctrace must not contain them: ctrace owns those
// settings for the duration of a recording and restores them afterwards.
var ruleGlobalOptions = map[string]string{
	"D":                              "deletes all rules",
	"d":                              "deletes a rule",
	"W":                              "removes a watch",
	"e":                              "sets the enabled flag",
	"b":                              "sets the backlog limit",
	"f":                              "sets the failure mode",
	"r":                              "sets the rate limit",
	"backlog_wait_time":              "sets the backlog wait time",
	"reset_backlog_wait_time_actual": "resets a counter",
	"reset-lost":                     "resets the lost counter",
	"loginuid-immutable":             "locks loginuid",
	"i":                              "changes how auditctl handles errors",
	"c":                              "changes how auditctl handles errors",
	"R":                              "reads another rules file",
	"s":                              "queries the status",
	"l":                              "lists rules",
	"m":                              "sends a user message",
	"t":                              "trims subtrees",
	"q":                              "changes watches",
	"v":                              "prints the version",
	"h":                              "prints help",
}

// ruleOptions are the options a rule line may use, and whether they take a
// value.
var ruleOptions = map[string]bool{
	"a": true, "A": true, "F": true, "C": true, "S": true,
	"w": true, "p": true, "k": true,
}

// ParseRulesFile reads auditctl-style rules (as in audit.rules: `-a ...`,
// `-w PATH -p wa`, `#` comments, blank lines) and returns them normalised
// for ctrace, ready for BuildRules:
//
//   - every rule carries key RuleKey (added as an extra key when the rule
//     already has one; the kernel stores several keys in one rule);
//   - every rule of the exit or task list with action always excludes the
//     recorder (-F pid!=selfPID). Never rules need no exclusion, and file
//     watches (-w) cannot carry filters in auditctl syntax: both are kept
//     without it.
//
// Options that change global audit state rather than add a rule (-D, -e,
// -b, -f, -r, --backlog_wait_time, -i...) are rejected, and so are rules
// of the exclude list, which cannot carry a key. -A (prepend) is honoured
// by BuildRules. Errors name name:line and what was wrong.
//
// Order matters when the result is combined with DefaultRules: the kernel
// stops at the first exit rule that matches, so a never rule only
// suppresses events when it comes before the always rules.
func ParseRulesFile(r io.Reader, name string, selfPID int) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		norm, err := ruleNormaliseLine(line, selfPID)
		if err != nil {
			return nil, fmt.Errorf("capture: %s:%d: %w", name, n, err)
		}
		out = append(out, norm)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("capture: reading %s: %w", name, err)
	}
	return out, nil
}

// ruleNormaliseLine checks one rules-file line and rewrites it in canonical
// form with the ctrace key and the pid exclusion.
func ruleNormaliseLine(line string, selfPID int) (string, error) {
	if err := ruleCheckTokens(line); err != nil {
		return "", err
	}
	r, err := flags.Parse(line)
	if err != nil {
		return "", fmt.Errorf("invalid rule %q: %w", line, err)
	}

	var out string
	switch v := r.(type) {
	case *rule.SyscallRule:
		if v.List == "exclude" {
			// go-libaudit (like the kernel's exclude filter) allows no key
			// there, and a rule without the ctrace key could not be found
			// and removed after a crash.
			return "", errors.New("rules of the exclude list cannot carry a key, which ctrace needs to remove them after a crash; not supported")
		}
		// -F key=X is the same as -k X; keep keys in one place so that
		// adding ours does not make a second key field (EINVAL).
		filters := v.Filters[:0:0]
		for _, f := range v.Filters {
			if f.Type == rule.ValueFilterType && f.LHS == "key" {
				if f.Comparator != "=" {
					return "", fmt.Errorf("invalid rule %q: key only supports =", line)
				}
				v.Keys = append(v.Keys, f.RHS)
				continue
			}
			filters = append(filters, f)
		}
		v.Filters = filters
		v.Keys = ruleWithKey(v.Keys)
		if (v.List == "exit" || v.List == "task") && v.Action == "always" {
			v.Filters = append(v.Filters, rule.FilterSpec{
				Type: rule.ValueFilterType, LHS: "pid", Comparator: "!=", RHS: strconv.Itoa(selfPID),
			})
		}
		out = ruleFormatSyscall(v)
	case *rule.FileWatchRule:
		v.Keys = ruleWithKey(v.Keys)
		out = ruleFormatWatch(v)
	case *rule.DeleteAllRule:
		return "", errors.New("-D deletes all rules, which a ctrace rules file must not do")
	default:
		return "", fmt.Errorf("unsupported rule %q", line)
	}

	// Catch what only rule.Build checks (unknown syscalls, fields, arch,
	// key length) here, where the file and line are known.
	if _, err := ruleBuildLine(out); err != nil {
		return "", err
	}
	return out, nil
}

// ruleCheckTokens rejects options that are not part of a rule and stray
// arguments that flags.Parse would silently ignore (Go's flag package stops
// at the first non-option argument).
func ruleCheckTokens(line string) error {
	args, err := shellquote.Split(line)
	if err != nil {
		return fmt.Errorf("invalid quoting in %q: %w", line, err)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			return fmt.Errorf("unexpected argument %q in %q", a, line)
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if what, ok := ruleGlobalOptions[name]; ok {
			return fmt.Errorf("%s %s: a ctrace rules file may only add rules "+
				"(ctrace sets and restores the global audit settings itself)", a, what)
		}
		takesValue, ok := ruleOptions[name]
		if !ok {
			return fmt.Errorf("unknown option %s in %q", a, line)
		}
		if takesValue && !hasValue {
			i++ // skip the option's value
			if i == len(args) {
				return fmt.Errorf("option %s needs a value in %q", a, line)
			}
		}
	}
	return nil
}

// ruleWithKey returns keys with RuleKey appended unless already present.
func ruleWithKey(keys []string) []string {
	if slices.Contains(keys, RuleKey) {
		return keys
	}
	return append(keys, RuleKey)
}

// ruleFormatSyscall writes a syscall rule back as an auditctl line: list
// and action, the arch filter, the syscalls, the other filters in their
// order, the keys.
func ruleFormatSyscall(r *rule.SyscallRule) string {
	opt := "-a"
	if r.Type == rule.PrependSyscallRuleType {
		opt = "-A"
	}
	args := []string{opt, r.Action + "," + r.List}
	var rest []string
	for _, f := range r.Filters {
		o := "-F"
		if f.Type == rule.InterFieldFilterType {
			o = "-C"
		}
		arg := []string{o, f.LHS + f.Comparator + f.RHS}
		if f.Type == rule.ValueFilterType && f.LHS == "arch" {
			args = append(args, arg...)
		} else {
			rest = append(rest, arg...)
		}
	}
	if len(r.Syscalls) > 0 {
		args = append(args, "-S", strings.Join(r.Syscalls, ","))
	}
	args = append(args, rest...)
	for _, k := range r.Keys {
		args = append(args, "-k", k)
	}
	return ruleJoinArgs(args)
}

// ruleFormatWatch writes a file watch back as an auditctl line.
func ruleFormatWatch(r *rule.FileWatchRule) string {
	args := []string{"-w", r.Path}
	if len(r.Permissions) > 0 {
		var p strings.Builder
		for _, a := range r.Permissions {
			p.WriteByte(map[rule.AccessType]byte{
				rule.ReadAccessType: 'r', rule.WriteAccessType: 'w',
				rule.ExecuteAccessType: 'x', rule.AttributeChangeAccessType: 'a',
			}[a])
		}
		args = append(args, "-p", p.String())
	}
	for _, k := range r.Keys {
		args = append(args, "-k", k)
	}
	return ruleJoinArgs(args)
}

// BuildRules converts auditctl-style rule lines to the kernel's wire format
// (struct audit_rule_data) with flags.Parse and rule.Build. Lines that do
// not add a rule (-D) are rejected. The error names the offending line.
//
// A rule added with -A carries AUDIT_FILTER_PREPEND, which the kernel
// clears when it stores the rule: ruleStored gives the form the kernel
// lists and expects for deletion.
func BuildRules(lines []string) ([][]byte, error) {
	out := make([][]byte, 0, len(lines))
	for _, l := range lines {
		wf, err := ruleBuildLine(l)
		if err != nil {
			return nil, fmt.Errorf("capture: rule %q: %w", l, err)
		}
		out = append(out, wf)
	}
	return out, nil
}

// ruleJoinArgs joins arguments into one line that shellquote.Split (used
// by flags.Parse) splits back into the same arguments. Unlike
// shellquote.Join it leaves & ! < > alone, which are not special to Split,
// so that lines read like auditctl's.
func ruleJoinArgs(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if a == "" || strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
				strings.ContainsRune("_@%+=:,./&!<>-", r))
		}) >= 0 {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}

func ruleBuildLine(line string) ([]byte, error) {
	r, err := flags.Parse(line)
	if err != nil {
		return nil, err
	}
	if _, ok := r.(*rule.DeleteAllRule); ok {
		return nil, errors.New("-D does not add a rule")
	}
	wf, err := rule.Build(r)
	if err != nil {
		return nil, err
	}
	// rule.Build ignores -A: it would load the rule at the end of its list
	// like -a. Set AUDIT_FILTER_PREPEND in the flags word ourselves.
	if sr, ok := r.(*rule.SyscallRule); ok && sr.Type == rule.PrependSyscallRuleType {
		ne := binary.NativeEndian
		ne.PutUint32(wf, ne.Uint32(wf)|auditFilterPrepend)
	}
	return wf, nil
}
