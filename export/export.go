// Package export writes an analysis as tables that existing engines read
// (ctrace export): processes, execs, files, containers and connections, one
// row per fact, flat columns, as Parquet or JSON Lines, laid out
// Hive-style (DIR/<table>/host=<host>/date=<YYYY-MM-DD>/<capture>.<ext>) so
// that the exports of many hosts and captures are one dataset. Every row
// carries host, boot_id and capture (the capture file's id). The columns
// are documented in export/SCHEMA.md, with their Elastic Common Schema
// names.
package export

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/format"
)

// Formats.
const (
	Parquet = "parquet"
	JSONL   = "jsonl"
)

// Tables.
var Tables = []string{"processes", "execs", "files", "containers", "connections"}

// Origin is where a row comes from: the host, its boot and the capture
// (its file id). Every row starts with it.
type Origin struct {
	Host    string `parquet:"host" json:"host"`
	BootID  string `parquet:"boot_id" json:"boot_id"`
	Capture string `parquet:"capture" json:"capture"`
}

// Actor is the process a fact belongs to: its id in the capture and its
// pid.
type Actor struct {
	ProcessID int64 `parquet:"process_id" json:"process_id"`
	PID       int64 `parquet:"pid" json:"pid"`
}

// actorOf is the Actor of a process's rows.
func actorOf(p *analyze.Process) Actor { return Actor{ProcessID: int64(p.ID), PID: int64(p.PID)} }

// Process is a row of the processes table.
type Process struct {
	Origin
	ID          int64      `parquet:"id" json:"id"`
	PID         int64      `parquet:"pid" json:"pid"`
	PPID        *int64     `parquet:"ppid,optional" json:"ppid"`
	ParentID    *int64     `parquet:"parent_id,optional" json:"parent_id"`
	Start       *time.Time `parquet:"start,optional,timestamp(nanosecond)" json:"start"`
	End         *time.Time `parquet:"end,optional,timestamp(nanosecond)" json:"end"`
	Exe         string     `parquet:"exe" json:"exe"`
	Argv        []string   `parquet:"argv,list" json:"argv"`
	Cwd         string     `parquet:"cwd" json:"cwd"`
	UID         *int64     `parquet:"uid,optional" json:"uid"`
	EUID        *int64     `parquet:"euid,optional" json:"euid"`
	GID         *int64     `parquet:"gid,optional" json:"gid"`
	AUID        *int64     `parquet:"auid,optional" json:"auid"`
	ExitCode    *int64     `parquet:"exit_code,optional" json:"exit_code"`
	Signal      *int64     `parquet:"signal,optional" json:"signal"`
	KilledByPID *int64     `parquet:"killed_by_pid,optional" json:"killed_by_pid"`
	Container   *string    `parquet:"container,optional" json:"container"`
	PreExisting bool       `parquet:"pre_existing" json:"pre_existing"`
}

// Exec is a row of the execs table.
type Exec struct {
	Origin
	Actor
	Time      *time.Time `parquet:"time,optional,timestamp(nanosecond)" json:"time"`
	Exe       string     `parquet:"exe" json:"exe"`
	Argv      []string   `parquet:"argv,list" json:"argv"`
	UID       *int64     `parquet:"uid,optional" json:"uid"`
	EUID      *int64     `parquet:"euid,optional" json:"euid"`
	Container *string    `parquet:"container,optional" json:"container"`
}

// File is a row of the files table.
type File struct {
	Origin
	Actor
	Time       *time.Time `parquet:"time,optional,timestamp(nanosecond)" json:"time"`
	Operation  string     `parquet:"operation" json:"operation"`
	Path       string     `parquet:"path" json:"path"`
	HostPath   string     `parquet:"host_path" json:"host_path"`
	Unresolved bool       `parquet:"unresolved" json:"unresolved"`
	Container  *string    `parquet:"container,optional" json:"container"`
}

// Container is a row of the containers table.
type Container struct {
	Origin
	ID           string     `parquet:"id" json:"id"`
	Runtime      string     `parquet:"runtime" json:"runtime"`
	Rootfs       string     `parquet:"rootfs" json:"rootfs"`
	InitPID      *int64     `parquet:"init_pid,optional" json:"init_pid"`
	Start        *time.Time `parquet:"start,optional,timestamp(nanosecond)" json:"start"`
	End          *time.Time `parquet:"end,optional,timestamp(nanosecond)" json:"end"`
	ExitCode     *int64     `parquet:"exit_code,optional" json:"exit_code"`
	StartedByPID *int64     `parquet:"started_by_pid,optional" json:"started_by_pid"`
	PreExisting  bool       `parquet:"pre_existing" json:"pre_existing"`
}

// Connection is a row of the connections table.
type Connection struct {
	Origin
	Actor
	Time      *time.Time `parquet:"time,optional,timestamp(nanosecond)" json:"time"`
	Operation string     `parquet:"operation" json:"operation"`
	Family    string     `parquet:"family" json:"family"`
	Address   string     `parquet:"address" json:"address"`
	Port      *int64     `parquet:"port,optional" json:"port"`
	Path      string     `parquet:"path" json:"path"`
	Result    string     `parquet:"result" json:"result"`
	Container *string    `parquet:"container,optional" json:"container"`
}

// Result says what an export wrote: rows per table and the files.
type Result struct {
	Rows  map[string]int
	Files []string
}

// rowBatch is how many rows go to a writer at once (a Parquet row group
// holds at most this many, so memory stays bounded).
const rowBatch = 8192

// CaptureID returns the capture column of the capture at path: the
// capture file's id (hex), or for the directory of a capture set read as
// one recording, the set's id.
func CaptureID(path string) (string, error) {
	r, err := format.OpenSet([]string{path}, format.Window{})
	if err != nil {
		return "", err
	}
	defer r.Close()
	if r.Parts() != nil {
		return r.Header().Set.ID, nil
	}
	id := r.FileID()
	return hex.EncodeToString(id[:]), nil
}

// Write exports one analysis of the capture with id captureID into dir.
func Write(dir, formatName, captureID string, a *analyze.Analysis) (*Result, error) {
	if formatName != Parquet && formatName != JSONL {
		return nil, fmt.Errorf("export: format %q (parquet or jsonl)", formatName)
	}
	c := &a.Capture
	host := c.Host
	if host == "" {
		host = "unknown"
	}
	date := "unknown"
	if c.Start != 0 {
		date = time.Unix(0, c.Start).UTC().Format("2006-01-02")
	}
	res := &Result{Rows: map[string]int{}}
	open := func(table string) (string, error) {
		d := filepath.Join(dir, table, "host="+url.PathEscape(host), "date="+date)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		p := filepath.Join(d, captureID+"."+formatName)
		res.Files = append(res.Files, p)
		return p, nil
	}
	base := Origin{Host: c.Host, BootID: c.BootID, Capture: captureID}
	var err error
	if err = writeTable(open, "processes", formatName, res, processRows(a, base)); err != nil {
		return nil, err
	}
	if err = writeTable(open, "execs", formatName, res, execRows(a, base)); err != nil {
		return nil, err
	}
	if err = writeTable(open, "files", formatName, res, fileRows(a, base)); err != nil {
		return nil, err
	}
	if err = writeTable(open, "containers", formatName, res, containerRows(a, base)); err != nil {
		return nil, err
	}
	if err = writeTable(open, "connections", formatName, res, connectionRows(a, base)); err != nil {
		return nil, err
	}
	return res, nil
}

// rows yields a table's rows in batches.
type rows[T any] func(yield func([]T) error) error

func writeTable[T any](open func(string) (string, error), table, formatName string, res *Result, src rows[T]) error {
	p, err := open(table)
	if err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	n := 0
	switch formatName {
	case Parquet:
		w := parquet.NewGenericWriter[T](bw, parquet.Compression(&parquet.Zstd))
		err = src(func(batch []T) error {
			if _, err := w.Write(batch); err != nil {
				return err
			}
			n += len(batch)
			return w.Flush() // one row group per batch: memory stays bounded
		})
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	case JSONL:
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		err = src(func(batch []T) error {
			for i := range batch {
				if err := enc.Encode(&batch[i]); err != nil {
					return err
				}
			}
			n += len(batch)
			return nil
		})
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export: %s: %w", p, err)
	}
	res.Rows[table] = n
	return nil
}

// collect makes a table's rows from a function that adds them one by one:
// they are handed on in batches.
func collect[T any](each func(add func(T) error) error) rows[T] {
	return func(yield func([]T) error) error {
		add, flush := batcher(yield)
		if err := each(add); err != nil {
			return err
		}
		return flush()
	}
}

// batcher collects rows and hands them on in batches.
func batcher[T any](yield func([]T) error) (add func(T) error, flush func() error) {
	buf := make([]T, 0, rowBatch)
	flush = func() error {
		if len(buf) == 0 {
			return nil
		}
		err := yield(buf)
		buf = buf[:0]
		return err
	}
	add = func(r T) error {
		buf = append(buf, r)
		if len(buf) == rowBatch {
			return flush()
		}
		return nil
	}
	return add, flush
}

func ts(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

func i64(v int) *int64 { x := int64(v); return &x }

func optInt(p *int) *int64 {
	if p == nil {
		return nil
	}
	return i64(*p)
}

func argv(a []string) []string {
	if a == nil {
		return []string{}
	}
	return a
}

func processRows(a *analyze.Analysis, b Origin) rows[Process] {
	return collect(func(add func(Process) error) error {
		for _, p := range a.Processes {
			r := Process{Origin: b, ID: int64(p.ID), PID: int64(p.PID),
				Start: ts(p.Start), End: ts(p.End), Exe: p.Exe, Argv: argv(p.Argv), Cwd: p.Cwd,
				ExitCode: optInt(p.ExitCode), Signal: optInt(p.Signal), Container: p.Container, PreExisting: p.PreExisting}
			if p.PPID != 0 {
				r.PPID = i64(p.PPID)
			}
			if p.Parent != nil {
				r.ParentID = i64(p.Parent.ID)
			}
			if id := p.Identity; id != nil {
				r.UID, r.EUID, r.GID, r.AUID = &id.UID, &id.EUID, &id.GID, &id.AUID
			}
			if k := p.KilledBy; k != nil {
				r.KilledByPID = i64(k.PID)
			}
			if err := add(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func execRows(a *analyze.Analysis, b Origin) rows[Exec] {
	return collect(func(add func(Exec) error) error {
		for _, p := range a.Processes {
			for _, x := range p.Execs {
				r := Exec{Origin: b, Actor: actorOf(p),
					Time: ts(x.Time), Exe: x.Exe, Argv: argv(x.Argv), Container: p.Container}
				if id := x.Identity; id != nil {
					r.UID, r.EUID = &id.UID, &id.EUID
				}
				if err := add(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func fileRows(a *analyze.Analysis, b Origin) rows[File] {
	return collect(func(add func(File) error) error {
		for _, p := range a.Processes {
			for i := range p.Files {
				f := &p.Files[i]
				if err := add(File{Origin: b, Actor: actorOf(p),
					Time: ts(f.Time), Operation: f.Op, Path: f.Path, HostPath: f.HostPath, Unresolved: f.Unresolved,
					Container: p.Container}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func containerRows(a *analyze.Analysis, b Origin) rows[Container] {
	return collect(func(add func(Container) error) error {
		for _, c := range a.Containers {
			r := Container{Origin: b, ID: c.ID, Runtime: c.Runtime, Rootfs: c.Rootfs,
				Start: ts(c.Start), End: ts(c.End), ExitCode: optInt(c.ExitCode), PreExisting: c.PreExisting}
			if c.Init != nil {
				r.InitPID = i64(c.Init.PID)
			}
			if c.StartedBy != nil {
				r.StartedByPID = i64(c.StartedBy.Process.PID)
			}
			if err := add(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func connectionRows(a *analyze.Analysis, b Origin) rows[Connection] {
	return collect(func(add func(Connection) error) error {
		for _, p := range a.Processes {
			for i := range p.Connections {
				c := &p.Connections[i]
				r := Connection{Origin: b, Actor: actorOf(p),
					Time: ts(c.Time), Operation: c.Op, Family: c.Family, Address: c.Address, Path: c.Path, Result: c.Result,
					Container: p.Container}
				if (c.Family == "inet" || c.Family == "inet6") && c.Address != "" {
					r.Port = i64(c.Port)
				}
				if err := add(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
