// Package extract cuts a capture down to what a bug report needs, with
// redaction: `ctrace extract`.
//
// # Selection
//
// The original is read once to build its process model (analyze.Build) and
// its summary (replay.Summarizer), and to index its audit events; the
// processes to keep are chosen on the model:
//
//   - PIDs: every process that had the pid (a reused pid names several) and
//     its descendants, for their whole lives;
//   - Command: the command of a `ctrace record -- COMMAND` capture (its
//     pid from the trailer or the command_start note; the first process of
//     that pid created during the capture) and its descendants;
//   - Containers: analyze.Model.FindContainer: the container's processes
//     (its init, `exec` sessions, their descendants), its runtime
//     processes (shim, runc invocations for it) and the clients that
//     started it and its exec sessions (analyze.Container.StartedBy);
//   - Since/Until: a window on the wall clock (RFC 3339, or an offset from
//     the capture's start). Process selectors add up; the window narrows
//     them to the processes whose life meets it. Without a process selector
//     every process alive in the window is selected.
//
// A second pass writes the frames that concern the selected processes, byte
// for byte, with their receive times and flags, in the original's order:
//
//   - audit: every record of an event (one "audit(SEC.MSEC:SERIAL)" stamp)
//     goes together; the event is kept when its process (the SYSCALL
//     record's pid=, else the first pid= of its records) is selected and
//     its stamp is in the window. A pid is placed in the life of the right
//     process by time when it was reused. Records of the standalone types
//     (user space and daemon messages) are events of their own. Control
//     frames (acks, replies) and records that name no process are dropped,
//     except, without a process selector, records in the window;
//   - proc connector: the events whose tgid is a selected process (the
//     child's, for a fork), in the window; acknowledgements are dropped;
//   - snapshot: the entries (every thread) of the selected processes;
//   - notes: all of them (they describe the recording: losses, the
//     command).
//
// A selected process's identity frames are kept even outside the window:
// its snapshot entries, its creation (fork), execs, comm changes and exit
// (proc connector), its successful execs, exit_group, pivot_root, chroot,
// setns, unshare and ANOM_ABEND (audit), and the clone record that created
// it.
//
// # Bare entries
//
// The ancestors of the selected processes (their parents in the model, up
// to its roots) are kept as bare entries, so that the tree still has a
// root; so are, for a selected process inside a container, the container's
// init and its ancestors (the init's pivot_root names the container's root,
// its runtime's command line the container; an `exec` session is not a
// descendant of the init). A bare entry is the identity frames of a
// process's leader: its snapshot leader record, the proc connector's fork
// that created it, its execs, comm changes and exit, its successful audit
// execs, exit_group, pivot_root, chroot, setns and unshare (how a process
// enters a container), ANOM_ABEND, the clone records with which it
// created a kept process, and (within the window) the signals and ptrace
// attaches whose OBJ_PID names a selected process (who killed or traced
// it). With NoAncestors (--no-ancestors) only the containers' inits and
// their runtime are bare entries. Nothing it did otherwise (files, other children,
// its threads) is kept, with two exceptions that a child's own model
// depends on:
//
//   - a child inherits its parent's working directory: when a kept child
//     names none of its own before it ends or creates a process (no exec, no
//     syscall with a path), the parent's last event with a CWD record
//     before the fork is kept;
//   - when an ancestor's leader exited before it created the next process
//     of the chain (a thread forked it after pthread_exit of the leader),
//     its threads' forks and exits are kept, so that it is still alive at
//     that fork.
//
// A selected process that vanished (a new process took its pid without its
// exit being seen) keeps the fork of that successor, as a bare entry: it is
// what says the first one vanished.
//
// With these, `ctrace analyze OUT` shows for the selected processes what
// `ctrace analyze --pid N ORIGINAL` shows (the tests check every process of
// the test captures). Known limit: a path a selected process named relative
// to a directory descriptor whose path the analyzer learnt only from
// another, unselected process's records (the inode of a PARENT item) stays
// unresolved in the extract.
//
// # Header and losses
//
// The header is the original's with kind "extract", extracted_from (the
// input's base name), selection (the original's lines, then one per
// selector, the window, and whether ancestors were kept as bare entries),
// redaction (what was applied: "redact: N patterns", "redact-env",
// "hash-paths", "redact-host"; never a pattern or a match) and
// original_losses: the losses of the original as a reader counts them
// (replay.Summary.Losses: trailer or notes, truncated frames, audit serial
// and proc sequence gaps). A reader of an extract takes its losses from
// there (replay.Summarize does): the gaps the extraction itself makes in
// serials and sequences are not losses. The trailer is the original's
// (stop reason, command and its exit, loss figures, end clock), with the
// extract's own segments and frame counts; the extract of a capture
// without a trailer (its recorder was killed) has none either. Segments
// follow the original's, each with its clock pair, so that every record
// keeps the times the analyzer gives it. The file id is derived from the
// original's and the header: the same extraction gives the same bytes.
//
// # Redaction
//
// Redaction rewrites the records that hold the text; every other record
// stays byte for byte. Audit values are decoded (quoted, or the kernel's
// hex for untrusted strings), rewritten, and encoded again as the kernel
// would (replay.EncodeUntrustedString: quoted when plain, hex otherwise);
// the rest of the record is kept as it was, and the netlink header's
// nlmsg_len keeps its relation to the datagram (the payload's length on
// the unicast socket, the whole datagram's on the multicast group). An
// EXECVE argument split over pieces (aN_len, aN[0], ...; possibly over
// several records) is rebuilt, rewritten and cut again at the old pieces'
// lengths, hex-encoded as the kernel writes split arguments, with aN_len
// updated. Snapshot and note JSON is written again (keys sorted) only when
// a value changed. Where:
//
//   - audit: EXECVE arguments; PATH name (relative names resolved against
//     the event's original CWD to know where they lie, unless the syscall
//     named a directory descriptor: then every component of a relative name
//     is hashed); CWD cwd; SYSCALL exe
//     and comm; PROCTITLE (its NUL-separated arguments); path, name, cmd,
//     data and ocomm of other records, and the same keys inside user
//     space's msg='...';
//   - proc connector: the comm of comm changes (cut to the 15 bytes of the
//     fixed field);
//   - snapshot: argv, exe, cwd, root, comm, errors;
//   - notes: text (the command line of command_start);
//   - header: command, rules, the rules file, imported_from, extracted_from;
//     trailer: error.
//
// What each option does:
//
//   - Redact (--redact REGEX, repeatable): every non-empty match becomes
//     "[redacted]". The kernel cuts PROCTITLE at 128 bytes: a secret cut
//     there may not match any more (the EXECVE record has the whole
//     argument).
//   - RedactEnv (--redact-env): the kernel puts no environment in any
//     record: EXECVE holds argv only, PROCTITLE and the snapshot's argv are
//     the argument area (/proc/PID/cmdline; environ is never read). A
//     process that rewrote its argument area (setproctitle) may show part
//     of its environment there, indistinguishable from its title. So
//     environment values reach a capture as arguments: the NAME=VALUE
//     assignments of env(1) and sudo(8) before their command, env -S
//     strings, -e/--env of docker, podman and nerdctl, -E/--setenv of
//     systemd-run, assignment words in sh -c scripts (at a command's start,
//     after export, env, declare, local, readonly, typeset), and the
//     --env/--setenv NAME=VALUE options of any command. Their values become
//     "[redacted]" (NAME=[redacted]) in EXECVE, PROCTITLE, the snapshot's
//     argv, the header's command and the command_start note.
//   - HashPaths (--hash-paths): each path component under /home/* (the
//     user's name included) and below /root becomes "#" and 8 hex digits
//     of its SHA-256, the same in every capture, so trees stay readable and
//     comparable. Paths are the path values above, and the absolute paths
//     under a home found in arguments and other text; a relative name in an
//     argument is not recognised as a path. A comm that is the beginning of
//     the base name of a hashed exe is hashed like it. A short hash of a
//     guessable name (a user name) can be found by trying names: --redact
//     what must not be found.
//   - RedactHost (--redact-host): the header's hostname becomes
//     "[redacted]"; boot_id and kernel_version (the build string) are
//     dropped. Kernel audit and proc connector datagrams name no host.
//
// Not rewritten: binary fields (SOCKADDR saddr, which may hold a unix
// socket path), user and group names, audit rule keys, cgroup paths.
package extract
