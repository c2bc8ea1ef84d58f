package groundtruth

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const compareTruth = `
{"ev":"exec","pid":10,"tid":10,"exe":"/w/top","argv":["./top","/d"]}
{"ev":"process","pid":10,"ppid":5,"role":"top"}
{"ev":"thread","pid":10,"tid":11}
{"ev":"process","pid":12,"ppid":10,"role":"middle"}
{"ev":"process","pid":13,"ppid":12,"role":"orphan"}
{"ev":"exit","pid":12,"code":0}
{"ev":"reparent","pid":13,"ppid":10}
{"ev":"exec","pid":13,"tid":13,"exe":"/w/top","argv":["/w/top","/d","stage"]}
{"ev":"write","pid":13,"path":"/d/a","op":"create"}
{"ev":"write","pid":13,"path":"/d/b","op":"create"}
{"ev":"write","pid":13,"path":"/d/b","op":"truncate","fd":3}
{"ev":"no_op","pid":13,"path":"/d/a","op":"truncate"}
{"ev":"write","pid":13,"path":"/d/t","op":"rename_to"}
{"ev":"write","pid":13,"path":"/d/g","op":"unlink"}
{"ev":"write","pid":13,"path":"/d/ap","op":"open_write"}
{"ev":"not_written","pid":13,"path":"/d/in"}
{"ev":"open_at_exit","pid":13,"path":"/d/a"}
{"ev":"exit","pid":13,"code":4}
{"ev":"process","pid":14,"ppid":10,"role":"victim"}
{"ev":"killed","pid":14,"signal":9}
{"ev":"exit","pid":10,"code":0}
`

// compareModelJSON is a model that agrees with compareTruth, in one of the
// shapes the contract allows.
const compareModelJSON = `{
 "capture": {"host": "ctrace-test"},
 "processes": [
  {"pid": 10, "ppid": 5, "threads": [11], "exe": "/w/top", "argv": ["./top", "/d"], "cwd": "/w",
   "execs": [{"time": 100, "exe": "/w/top", "argv": ["./top", "/d"]}],
   "start": 100, "end": 900, "exit_code": 0, "signal": null, "container": null, "pre_existing": false,
   "files_written": [], "files": []},
  {"pid": 12, "ppid": 10, "threads": [], "exe": "/w/top", "argv": ["./top", "/d"], "cwd": "/w",
   "execs": [], "start": 200, "end": 300, "exit_code": 0, "signal": null, "container": null, "pre_existing": false,
   "files_written": [], "files": []},
  {"pid": 13, "ppid": 12, "threads": [], "exe": "/w/top", "argv": ["/w/top", "/d", "stage"], "cwd": "/w",
   "execs": [{"time": 400, "exe": "/w/top", "argv": ["/w/top", "/d", "stage"]}],
   "start": 250, "end": 800, "exit_code": 4, "signal": null, "container": null, "pre_existing": false,
   "files_written": ["/d/a", "/d/ap", "/d/b", "/d/g", "/d/t"],
   "files": [
    {"path": "/d/a", "operation": "create", "time": 410, "closed": 800, "closed_by": "exit"},
    {"path": "/d/b", "operation": "create", "time": 420, "closed": 430, "closed_by": "reuse"},
    {"path": "/d/b", "operation": "truncate", "time": 425},
    {"path": "/d/t", "operations": ["rename_to"], "times": {"open": 440, "close": 440}},
    {"path": "/d/g", "operations": ["unlink"], "times": {"open": 450, "close": 450}},
    {"path": "/d/ap", "operations": ["open_write"], "times": {"open": 460, "close": 470}}
   ]},
  {"pid": 14, "ppid": 10, "threads": [], "exe": "/w/top", "argv": ["./top", "/d"], "cwd": "/w",
   "execs": [], "start": 850, "end": 860, "exit_code": null, "signal": 9, "container": null, "pre_existing": false,
   "files_written": [], "files": []}
 ],
 "containers": []
}`

func TestCompareModel(t *testing.T) {
	truth, err := ParseTruth(strings.NewReader(compareTruth))
	if err != nil {
		t.Fatal(err)
	}
	if err := truth.Check(); err != nil {
		t.Fatal(err)
	}
	proc := func(m map[string]any, pid int) map[string]any {
		for _, p := range m["processes"].([]any) {
			if p := p.(map[string]any); p["pid"].(float64) == float64(pid) {
				return p
			}
		}
		t.Fatalf("no process %d", pid)
		return nil
	}
	file := func(m map[string]any, pid int, path string) map[string]any {
		for _, f := range proc(m, pid)["files"].([]any) {
			if f := f.(map[string]any); f["path"] == path {
				return f
			}
		}
		t.Fatalf("no file %s", path)
		return nil
	}
	cases := []struct {
		name   string
		change func(m map[string]any)
		want   string // "" for no error
	}{
		{"agrees", func(map[string]any) {}, ""},
		{"signal by name", func(m map[string]any) { proc(m, 14)["signal"] = "SIGKILL" }, ""},
		{"ops in other words", func(m map[string]any) {
			delete(file(m, 13, "/d/b"), "operation")
			file(m, 13, "/d/b")["operations"] = []any{"created", "ftruncate"}
			file(m, 13, "/d/t")["operation"] = "renamed"
			delete(file(m, 13, "/d/t"), "operations")
		}, ""},
		{"reparented ppid", func(m map[string]any) { proc(m, 13)["ppid"] = 10 }, "want the creator 12"},
		{"thread missing", func(m map[string]any) { proc(m, 10)["threads"] = []any{} }, "not in the model's threads"},
		{"thread as process", func(m map[string]any) {
			m["processes"] = append(m["processes"].([]any), map[string]any{"pid": 11, "ppid": 10, "start": 950})
		}, "thread 11 is shown as a process"},
		{"leader's exit code", func(m map[string]any) { proc(m, 13)["exit_code"] = 0 }, "want 4"},
		{"killed with a code", func(m map[string]any) { proc(m, 14)["exit_code"] = 137 }, "for a death by signal"},
		{"wrong signal", func(m map[string]any) { proc(m, 14)["signal"] = 15 }, "want 9"},
		{"read-only file written", func(m map[string]any) {
			p := proc(m, 13)
			p["files_written"] = append(p["files_written"].([]any), "/d/in")
		}, "opened read-only"},
		{"unclean path", func(m map[string]any) {
			proc(m, 13)["files_written"] = []any{"/d/x/../a", "/d/ap", "/d/b", "/d/g", "/d/t"}
		}, "not absolute and clean"},
		{"fd reuse misattributed", func(m map[string]any) {
			file(m, 13, "/d/a")["operations"] = []any{"create", "truncate"}
		}, `has operation "truncate"`},
		{"rename missing", func(m map[string]any) { file(m, 13, "/d/t")["operations"] = []any{"create"} }, "operation rename_to"},
		{"not closed at exit", func(m map[string]any) {
			file(m, 13, "/d/a")["closed"] = nil
		}, "closed at the process's end"},
		{"exec missing", func(m map[string]any) { proc(m, 13)["execs"] = []any{} }, "model has 0 execs"},
		{"argv not the last exec's", func(m map[string]any) { proc(m, 13)["argv"] = []any{"./top", "/d"} }, "want the last exec's"},
		{"no end", func(m map[string]any) { proc(m, 12)["end"] = nil }, "both must be set"},
		{"unsorted", func(m map[string]any) { proc(m, 14)["start"] = 50 }, "not sorted"},
		{"start unknown, sorted by first_seen", func(m map[string]any) {
			host := map[string]any{"pid": 3, "ppid": 1, "start": nil, "first_seen": 90}
			m["processes"] = append([]any{host}, m["processes"].([]any)...)
		}, ""},
		{"start unknown, first_seen out of order", func(m map[string]any) {
			host := map[string]any{"pid": 3, "ppid": 1, "start": nil, "first_seen": 990}
			m["processes"] = append([]any{host}, m["processes"].([]any)...)
		}, "not sorted"},
		{"process outside the truth", func(m map[string]any) {
			m["processes"] = append(m["processes"].([]any), map[string]any{"pid": 99, "ppid": 13, "start": 950})
		}, "model process 99 (parent 13"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(compareModelJSON), &m); err != nil {
				t.Fatal(err)
			}
			tc.change(m)
			b, _ := json.Marshal(m)
			model, err := DecodeModel(b)
			if err != nil && !strings.Contains(err.Error(), "has no") {
				t.Fatal(err) // only the partial processes added by a case lack keys
			}
			errs := CompareModel(truth, model)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Errorf("errors for a model that agrees: %q", errs)
				}
				return
			}
			if !slices.ContainsFunc(errs, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("want an error with %q, got %q", tc.want, errs)
			}
		})
	}
}

func TestDecodeModelRequiresTheContract(t *testing.T) {
	var m map[string]any
	json.Unmarshal([]byte(compareModelJSON), &m)
	delete(m, "containers")
	p := m["processes"].([]any)[0].(map[string]any)
	delete(p, "cwd")
	delete(p["execs"].([]any)[0].(map[string]any), "time")
	b, _ := json.Marshal(m)
	_, err := DecodeModel(b)
	for _, want := range []string{`no "containers"`, `has no "cwd"`, `exec 0 has no "time"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error with %q, got %v", want, err)
		}
	}
}

func TestParseTruth(t *testing.T) {
	bad := []string{
		`{"ev":"process","pid":1,"role":"x"}`,                   // no ppid
		`{"ev":"thread","pid":1,"tid":1}`,                       // tid == pid
		`{"ev":"write","pid":1,"path":"rel","op":"create"}`,     // relative
		`{"ev":"write","pid":1,"path":"/a/../b","op":"create"}`, // not clean
		`{"ev":"write","pid":1,"path":"/a","op":"chmod"}`,       // unknown op
		`{"ev":"exit","pid":1}`,                                 // no code
		`{"ev":"killed","pid":1}`,                               // no signal
		`{"ev":"exec","pid":1,"tid":1,"argv":["x"]}`,            // no exe
		`{"ev":"spawn","pid":1}`,                                // unknown ev
		`{"ev":"exit","pid":1,"code":0,"extra":true}`,           // unknown field
		`{"ev":"exit","pid":1,"code":0`,                         // not JSON
	}
	for _, line := range bad {
		if _, err := ParseTruth(strings.NewReader(line)); err == nil {
			t.Errorf("accepted %s", line)
		}
	}
	// Check: each process ends once, exec tid is the pid.
	inconsistent := []string{
		`{"ev":"process","pid":2,"ppid":1,"role":"x"}`,
		`{"ev":"process","pid":2,"ppid":1,"role":"x"}` + "\n" + `{"ev":"exit","pid":2,"code":0}` + "\n" + `{"ev":"exit","pid":2,"code":0}`,
		`{"ev":"process","pid":2,"ppid":1,"role":"x"}` + "\n" + `{"ev":"exit","pid":2,"code":0}` + "\n" + `{"ev":"exec","pid":2,"tid":3,"exe":"/x","argv":["x"]}`,
		`{"ev":"process","pid":2,"ppid":1,"role":"x"}` + "\n" + `{"ev":"exit","pid":2,"code":0}` + "\n" + `{"ev":"exit","pid":3,"code":0}`,
	}
	for _, s := range inconsistent {
		tr, err := ParseTruth(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if tr.Check() == nil {
			t.Errorf("Check accepted %q", s)
		}
	}
}
