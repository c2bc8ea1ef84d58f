package extract

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"regexp"
	"strings"
)

// Redacted replaces the text a --redact pattern matched and the values
// --redact-env drops.
const Redacted = "[redacted]"

// redactor rewrites strings: environment assignments in argument lists
// (--redact-env), then the patterns (--redact), then path components under
// user homes (--hash-paths). The zero value changes nothing.
type redactor struct {
	patterns []*regexp.Regexp
	env      bool
	hash     bool
}

func (r *redactor) active() bool { return len(r.patterns) > 0 || r.env || r.hash }

// regex replaces every non-empty match of every pattern with Redacted.
// Empty matches are ignored: a pattern that can match nothing would
// otherwise insert the marker between every two bytes.
func (r *redactor) regex(s string) string {
	for _, re := range r.patterns {
		locs := re.FindAllStringIndex(s, -1)
		if len(locs) == 0 {
			continue
		}
		var b strings.Builder
		pos := 0
		for _, l := range locs {
			if l[1] == l[0] || l[0] < pos {
				continue
			}
			b.WriteString(s[pos:l[0]])
			b.WriteString(Redacted)
			pos = l[1]
		}
		if pos == 0 {
			continue
		}
		b.WriteString(s[pos:])
		s = b.String()
	}
	return s
}

// text rewrites free text (a command line, a note, a rule): the patterns,
// then the absolute paths under user homes found in it.
func (r *redactor) text(s string) string {
	return r.hashText(r.regex(s))
}

// path rewrites a value that is one path (a PATH name, a cwd, an exe):
// the patterns, then each component under a user home. A relative name is
// resolved against base (the original working directory) to know whether
// it lies under a home; base "" means unknown, and every component of a
// relative name is then hashed.
func (r *redactor) path(p, base string) string {
	p = r.regex(p)
	if !r.hash || p == "" {
		return p
	}
	return hashPath(p, base)
}

// argv rewrites an argument list: environment assignments, then each
// argument as free text.
func (r *redactor) argv(args []string) []string {
	out := args
	if r.env {
		out = redactEnvArgs(args)
	}
	var res []string
	for i, a := range out {
		if n := r.text(a); n != a {
			if res == nil {
				res = append([]string(nil), out...)
			}
			res[i] = n
		}
	}
	if res != nil {
		return res
	}
	return out
}

func sameBacking(a, b []string) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// commandLine rewrites a command line stored as one string (the
// command_start note, sudo's cmd=): split at spaces, rewritten as an
// argument list, joined again when something changed.
func (r *redactor) commandLine(s string) string {
	if r.env {
		words := strings.Split(s, " ")
		if n := redactEnvArgs(words); !equalStrings(n, words) {
			s = strings.Join(n, " ")
		}
	}
	return r.text(s)
}

// comm rewrites a command name. With --hash-paths, a comm that is the
// (15-byte) beginning of the base name of exe, when exe lies under a home,
// is replaced by the hash of that base name: it would name the file
// otherwise.
func (r *redactor) comm(comm, exe string) string {
	c := r.regex(comm)
	if r.hash && c == comm && exe != "" && strings.HasPrefix(exe, "/") && !isHashed(comm) {
		base := path.Base(exe)
		if underHome(path.Clean(exe)) && comm != "" && len(comm) <= len(base) && base[:len(comm)] == comm &&
			(len(comm) == len(base) || len(comm) >= 15) {
			return hashComponent(base)
		}
	}
	return c
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---- --hash-paths ----

// hashComponent is the stable short hash that replaces a path component:
// "#" and the first 8 hex digits of its SHA-256. The same name gives the
// same hash in every capture (so trees stay comparable); a name guessable
// from a dictionary can be found again from it: --redact what must not be.
func hashComponent(c string) string {
	sum := sha256.Sum256([]byte(c))
	return "#" + hex.EncodeToString(sum[:4])
}

// isHashed reports whether c is already a hash or the redaction marker
// (so that extracting an extract again changes nothing).
func isHashed(c string) bool {
	if c == Redacted {
		return true
	}
	if len(c) != 9 || c[0] != '#' {
		return false
	}
	for i := 1; i < 9; i++ {
		if !(c[i] >= '0' && c[i] <= '9' || c[i] >= 'a' && c[i] <= 'f') {
			return false
		}
	}
	return true
}

// underHome reports whether the clean absolute path p lies under a user
// home: /home/USER... (the user's name included) or below /root.
func underHome(p string) bool {
	return strings.HasPrefix(p, "/home/") || strings.HasPrefix(p, "/root/")
}

// hashPath hashes the components of p that lie under a user home. p is
// absolute, or relative to base ("" when unknown: every component of a
// relative name is hashed). "." and ".." stay.
func hashPath(p, base string) string {
	cur := "/"
	unknown := false
	if !strings.HasPrefix(p, "/") {
		if base == "" || !strings.HasPrefix(base, "/") {
			unknown = true
		} else {
			cur = path.Clean(base)
		}
	}
	parts := strings.Split(p, "/")
	changed := false
	for i, c := range parts {
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		child := path.Join(cur, c)
		if (unknown || underHome(child)) && !isHashed(c) {
			parts[i] = hashComponent(c)
			changed = true
		}
		cur = child
	}
	if !changed {
		return p
	}
	return strings.Join(parts, "/")
}

// isDelim reports whether c ends a path found inside free text.
func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0, '"', '\'', ':', ',', ';', '=', '|', '&', '(', ')', '<', '>', '`':
		return true
	}
	return false
}

// hashText hashes the absolute paths under user homes that appear in free
// text: a "/home/" or "/root/" at the start or after a delimiter, up to
// the next delimiter (whitespace, quotes, ':', ',', ';', '=', ...).
// Relative names in free text are not recognised as paths.
func (r *redactor) hashText(s string) string {
	if !r.hash || (!strings.Contains(s, "/home/") && !strings.Contains(s, "/root/")) {
		return s
	}
	var b strings.Builder
	pos := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '/' || (i > 0 && !isDelim(s[i-1])) {
			continue
		}
		if !strings.HasPrefix(s[i:], "/home/") && !strings.HasPrefix(s[i:], "/root/") {
			continue
		}
		j := i
		for j < len(s) && !isDelim(s[j]) {
			j++
		}
		b.WriteString(s[pos:i])
		b.WriteString(hashPath(s[i:j], "/"))
		pos = j
		i = j - 1
	}
	if pos == 0 {
		return s
	}
	b.WriteString(s[pos:])
	return b.String()
}

// ---- --redact-env ----

// The kernel puts no environment in any record: EXECVE records hold argv
// (audit_log_execve_info reads the argument area only), and the /proc
// snapshot reads cmdline, never environ. Environment values reach a capture
// as arguments: the NAME=VALUE words of env(1) and sudo(8) before their
// command, env -S strings, -e/--env of container command lines (docker,
// podman, nerdctl), -E/--setenv of systemd-run, assignments in shell -c
// scripts, and the --env/--setenv NAME=VALUE options of any other command.
// redactEnvArgs drops the values there (NAME=[redacted]).

// isAssign reports whether a is NAME=VALUE with a shell variable name.
func isAssign(a string) bool {
	i := strings.IndexByte(a, '=')
	return i > 0 && validName(a[:i])
}

func validName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return n != ""
}

func dropValue(a string) string {
	i := strings.IndexByte(a, '=')
	if a[i+1:] == Redacted {
		return a
	}
	return a[:i+1] + Redacted
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ash": true, "mksh": true, "busybox": true}

// redactEnvArgs returns args with the environment values dropped (a copy
// when something changed).
func redactEnvArgs(args []string) []string {
	out := args
	set := func(i int, v string) {
		if v == out[i] {
			return
		}
		if sameBacking(out, args) {
			out = append([]string(nil), args...)
		}
		out[i] = v
	}
	i := 0
	for i < len(out) {
		switch name := path.Base(out[i]); {
		case name == "env":
			i = envArgs(out, i+1, set)
		case name == "sudo":
			i = sudoArgs(out, i+1, set)
		case name == "docker" || name == "podman" || name == "nerdctl":
			optionEnv(out, i+1, "-e", "--env", set)
			return out
		case name == "systemd-run":
			optionEnv(out, i+1, "-E", "--setenv", set)
			return out
		case shells[name]:
			for j := i + 1; j+1 < len(out); j++ {
				if out[j] == "-c" || (strings.HasPrefix(out[j], "-") && !strings.HasPrefix(out[j], "--") && strings.HasSuffix(out[j], "c")) {
					set(j+1, redactAssignWords(out[j+1], false))
					break
				}
				if !strings.HasPrefix(out[j], "-") {
					break
				}
			}
			return out
		default:
			// Any other command: its long --env/--setenv options.
			optionEnv(out, i+1, "", "--env", set)
			optionEnv(out, i+1, "", "--setenv", set)
			return out
		}
	}
	return out
}

// envArgs handles env's options and assignments from j and returns the
// index of its command.
func envArgs(args []string, j int, set func(int, string)) int {
	for j < len(args) {
		a := args[j]
		switch {
		case a == "--":
			j++
		case a == "-" || isAssign(a) || !strings.HasPrefix(a, "-"):
		case a == "-S" || a == "--split-string":
			if j+1 < len(args) {
				set(j+1, redactAssignWords(args[j+1], true))
			}
			j += 2
			continue
		case strings.HasPrefix(a, "--split-string="):
			set(j, "--split-string="+redactAssignWords(strings.TrimPrefix(a, "--split-string="), true))
			j++
			continue
		case strings.HasPrefix(a, "-S"):
			set(j, "-S"+redactAssignWords(a[2:], true))
			j++
			continue
		case a == "-u" || a == "--unset" || a == "-C" || a == "--chdir":
			j += 2
			continue
		default:
			j++
			continue
		}
		break
	}
	if j < len(args) && args[j] == "-" {
		j++
	}
	for j < len(args) && isAssign(args[j]) {
		set(j, dropValue(args[j]))
		j++
	}
	return j
}

var sudoValueOpts = map[string]bool{
	"-C": true, "-D": true, "-g": true, "-h": true, "-p": true, "-R": true, "-r": true, "-t": true, "-T": true, "-U": true, "-u": true,
	"--close-from": true, "--chdir": true, "--group": true, "--host": true, "--prompt": true, "--chroot": true,
	"--role": true, "--type": true, "--command-timeout": true, "--other-user": true, "--user": true,
}

// sudoArgs handles sudo's options and assignments from j and returns the
// index of its command.
func sudoArgs(args []string, j int, set func(int, string)) int {
	for j < len(args) {
		a := args[j]
		if a == "--" {
			j++
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			break
		}
		if sudoValueOpts[a] {
			j += 2
		} else {
			j++
		}
	}
	for j < len(args) && isAssign(args[j]) {
		set(j, dropValue(args[j]))
		j++
	}
	return j
}

// optionEnv drops the values of short/long environment options:
// "-e NAME=VALUE", "-eNAME=VALUE", "--env NAME=VALUE", "--env=NAME=VALUE".
// "-e NAME" (take the value from the caller's environment) has none.
func optionEnv(args []string, j int, short, long string, set func(int, string)) {
	for ; j < len(args); j++ {
		a := args[j]
		switch {
		case short != "" && a == short && j+1 < len(args), a == long && j+1 < len(args):
			if isAssign(args[j+1]) {
				set(j+1, dropValue(args[j+1]))
			}
			j++
		case strings.HasPrefix(a, long+"=") && isAssign(a[len(long)+1:]):
			set(j, long+"="+dropValue(a[len(long)+1:]))
		case short != "" && strings.HasPrefix(a, short) && !strings.HasPrefix(a, "--") && len(a) > len(short) && isAssign(a[len(short):]):
			set(j, short+dropValue(a[len(short):]))
		}
	}
}

// redactAssignWords drops the values of the assignment words of a shell
// script (or an env -S string, leading=true: only those before the
// command): a NAME=VALUE word at the start of a command (after ;, &, |,
// (, a newline or another assignment) or after export, env, declare,
// local, readonly, typeset. A value runs to the next blank or ;&|) outside
// quotes.
func redactAssignWords(s string, leading bool) string {
	var b strings.Builder
	pos := 0
	cmdStart := true
	afterDecl := false
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
			continue
		case c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '\n':
			if !leading {
				cmdStart, afterDecl = true, false
			}
			i++
			continue
		}
		// A word: up to a blank or an operator, quotes kept together.
		start := i
		eq := -1
		for i < len(s) {
			c := s[i]
			if c == ' ' || c == '\t' || c == ';' || c == '&' || c == '|' || c == ')' || c == '\n' {
				break
			}
			if c == '=' && eq < 0 {
				eq = i
			}
			if c == '\'' || c == '"' {
				if k := strings.IndexByte(s[i+1:], c); k >= 0 {
					i += k + 2
					continue
				}
				i = len(s)
				break
			}
			i++
		}
		word := s[start:i]
		switch {
		case eq > start && validName(s[start:eq]) && (cmdStart || afterDecl):
			if s[eq+1:i] != Redacted {
				b.WriteString(s[pos : eq+1])
				b.WriteString(Redacted)
				pos = i
			}
		case word == "export" || word == "env" || word == "declare" || word == "local" || word == "readonly" || word == "typeset":
			if !leading {
				afterDecl = true
			}
			cmdStart = false
		default:
			cmdStart = false
			if leading {
				// env -S: assignments only come before the command.
				afterDecl = false
			}
		}
	}
	if pos == 0 {
		return s
	}
	b.WriteString(s[pos:])
	return b.String()
}
