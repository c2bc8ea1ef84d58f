// Package containertest tests container detection (analyze: container*.go)
// against real containers.
//
// The kernel tests (TestIntegration*: Linux, root, docker; .ci/run prepares
// docker with testdata/docker/setup.sh) record real workloads with `ctrace
// record`: a `docker run` whose init forks a child, writes files and exits
// non-zero, with a `docker exec` into it; two containers at once; a
// container started before the recording; a bare `runc run` of an OCI
// bundle. Each checks what the analyzer finds in the full capture (ids,
// runtime, rootfs, init, the processes and the files they wrote, with their
// host paths), trims the capture to the containers and their runtime
// processes (Trim), and checks the trimmed capture the same way. Another
// records a docker session with auditd itself (a temporary configuration,
// ctrace's default rules loaded with auditctl) and checks the attribution
// from that log alone. With -update they keep the trimmed captures, the
// trimmed auditd log and the golden analyzer outputs in testdata/containers.
//
// The other tests need neither root nor docker: every kept capture is
// analyzed and compared with its golden outputs and its expectations,
// analyzed again from its audit records alone (as an imported log would
// be), and checked to hold nothing but its containers; the kept auditd log
// is imported (auditlog.ImportFile) and analyzed the same way.
package containertest
