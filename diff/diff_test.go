package diff

import (
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/docker/containers/9dd4512f689e75f855a0204ecbd222339a569e387431c0d47b50244299178da8/hostname": "/var/lib/docker/containers/<hex>/hostname",
		"/tmp/go-build85924089/b001/exe/a.out":                    "/tmp/go-build<n>/b001/exe/a.out",
		"/var/run/docker/runtime-runc/moby/x/runc.y2QosZ":         "/var/run/docker/runtime-runc/moby/x/runc.<rand>",
		"/var/lib/docker/tmp/docker-builder3213644562/Dockerfile": "/var/lib/docker/tmp/docker-builder<n>/Dockerfile",
		"sh -c 'echo hello > /app/version.txt'":                   "sh -c 'echo hello > /app/version.txt'",
		"/usr/lib/x86_64-linux-gnu/libc.so.6":                     "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/tmp/TestIntegrationDpkg756778373/002/strace.txt":        "/tmp/TestIntegrationDpkg<n>/002/strace.txt",
		"--name ctrace-test-run":                                  "--name ctrace-test-run",
		"/etc/.pwd.lock":                                          "/etc/.pwd.lock",
		"/tmp/ccEN4Kql.cdtor.o":                                   "/tmp/cc<rand>.cdtor.o",
		"/tmp/ccm3Fs2Q.s":                                         "/tmp/cc<rand>.s",
		"/tmp/ccAbCdEf.o /tmp/ccXyZ12a.res":                       "/tmp/cc<rand>.o /tmp/cc<rand>.res",
		"/usr/bin/Makefile":                                       "/usr/bin/Makefile",
		"-DVersion=FooBar":                                        "-DVersion=FooBar",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// A name mkstemp made of six letters of one case is left by Normalize (it
// could be a word), but a fact that differs from one of the other capture
// only there is no difference; anything else still differs.
func TestCompareLowerCaseRandomNames(t *testing.T) {
	fact := func(kind, what string) *Fact { return &Fact{Kind: kind, What: what, Ends: []string{"exit 0"}} }
	base := []*Fact{
		fact(KindFile, "create "+Normalize("/tmp/ccdPEd2E.s")),
		fact(KindExec, Normalize("/usr/bin/as as --64 -o a.o /tmp/ccdPEd2E.s")),
		fact(KindFile, "create /tmp/config.s"),
		// Two compiles' names: one normalised, the other all upper case.
		fact(KindFile, "create "+Normalize("/tmp/ccX3fQ2a.res")),
		fact(KindFile, "create "+Normalize("/tmp/ccZPVJHG.res")),
	}
	next := []*Fact{
		fact(KindFile, "create "+Normalize("/tmp/ccchxzod.s")),
		fact(KindExec, Normalize("/usr/bin/as as --64 -o a.o /tmp/ccchxzod.s")),
		fact(KindFile, "create /tmp/ccabcdef.o"),
		fact(KindFile, "create /tmp/output.s"),
		fact(KindFile, "create "+Normalize("/tmp/cc8mQz1B.res")),
	}
	next[1].Ends = []string{"exit 1"}
	var got []string
	for _, e := range Compare(base, next) {
		got = append(got, e.Change+" "+e.Fact.What)
	}
	want := []string{
		"changed /usr/bin/as as --64 -o a.o /tmp/ccchxzod.s",
		"new create /tmp/ccabcdef.o",
		"gone create /tmp/config.s",
		"new create /tmp/output.s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
