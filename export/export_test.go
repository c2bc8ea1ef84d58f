package export

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ctrace/ctrace/analyze"
	"github.com/ctrace/ctrace/internal/testbin"
)

// captures are real captures of two hosts ("ctrace-test" and a redacted
// one).
var captures = []string{
	filepath.Join("..", "testdata", "containers", "docker_run.ctr"),
	filepath.Join("..", "testdata", "containers", "two_containers.ctr"),
	filepath.Join("..", "testdata", "reports", "docker_build.ctr"),
	filepath.Join("..", "testdata", "paths", "dpkg.ctr"),
}

func exportAll(t *testing.T, format string) (string, []*analyze.Analysis) {
	t.Helper()
	dir := t.TempDir()
	var as []*analyze.Analysis
	for _, c := range captures {
		a, err := analyze.AnalyzeFile(c)
		if err != nil {
			t.Fatal(err)
		}
		id, err := CaptureID(c)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Write(dir, format, id, a)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows["processes"] != len(a.Processes) {
			t.Errorf("%s: %d process rows, %d processes", c, res.Rows["processes"], len(a.Processes))
		}
		as = append(as, a)
	}
	return dir, as
}

// duckdb runs queries with DuckDB (@duckdb/node-api, under
// $CTRACE_DUCKDB_DIR or ~/.cache/ctrace-duckdb, installed by .ci/run) and
// returns each query's rows as JSON values.
func duckdb(t *testing.T, queries []string) [][]map[string]any {
	t.Helper()
	mods := os.Getenv("CTRACE_DUCKDB_DIR")
	if mods == "" {
		home, _ := os.UserHomeDir()
		mods = filepath.Join(home, ".cache", "ctrace-duckdb")
	}
	if _, err := os.Stat(filepath.Join(mods, "node_modules", "@duckdb", "node-api")); err != nil {
		testbin.Unavailable(t, "DuckDB for Node.js is not installed in %s (npm install --prefix %s @duckdb/node-api; .ci/run does)", mods, mods)
	}
	if _, err := exec.LookPath("node"); err != nil {
		testbin.Unavailable(t, "node is not installed")
	}
	script := filepath.Join(mods, "ctrace-query.mjs")
	q, _ := json.Marshal(queries)
	body := `import { DuckDBInstance } from '@duckdb/node-api';
const qs = ` + string(q) + `;
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const out = [];
for (const q of qs) { const r = await con.runAndReadAll(q); out.push(r.getRowObjectsJson()); }
console.log(JSON.stringify(out));
`
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script)
	cmd.Dir = mods
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("duckdb: %v\n%s", err, stderr)
	}
	var res [][]map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDuckDBReadsExport: DuckDB loads the export of captures of two hosts
// (Parquet and JSON Lines) and answers the README's queries as the JSON
// report does.
func TestDuckDBReadsExport(t *testing.T) {
	for _, format := range []string{Parquet, JSONL} {
		t.Run(format, func(t *testing.T) {
			dir, as := exportAll(t, format)
			read := func(table string) string {
				if format == Parquet {
					return fmt.Sprintf("read_parquet('%s/%s/**/*.parquet', hive_partitioning=true)", dir, table)
				}
				return fmt.Sprintf("read_json_auto('%s/%s/**/*.jsonl', hive_partitioning=true)", dir, table)
			}
			res := duckdb(t, []string{
				// Which hosts ran docker, and how (README).
				"SELECT host, pid, argv FROM " + read("execs") + " WHERE argv[1] = 'docker' ORDER BY host, pid",
				// Files written under /app, per host and container (README).
				"SELECT host, container, count(*) AS n FROM " + read("files") + " WHERE path LIKE '/app/%' GROUP BY ALL ORDER BY ALL",
				// Processes per host and day, from the partitions.
				"SELECT host, CAST(date AS VARCHAR) AS date, count(*) AS n FROM " + read("processes") + " GROUP BY ALL ORDER BY ALL",
				// Processes killed by a signal, and by whom (README).
				"SELECT host, pid, signal, killed_by_pid FROM " + read("processes") + " WHERE signal IS NOT NULL ORDER BY host, pid",
			})
			// The same answers from the analyses.
			var docker, app, perHost, killed []string
			byHost := map[string]int{}
			appN := map[string]int{}
			for _, a := range as {
				h := a.Capture.Host
				byHost[h] += len(a.Processes)
				for _, p := range a.Processes {
					for _, x := range p.Execs {
						if len(x.Argv) > 0 && x.Argv[0] == "docker" {
							docker = append(docker, fmt.Sprintf("%s %d %q", h, p.PID, x.Argv))
						}
					}
					for _, f := range p.Files {
						if strings.HasPrefix(f.Path, "/app/") {
							c := "<nil>"
							if p.Container != nil {
								c = *p.Container
							}
							appN[h+" "+c]++
						}
					}
					if p.Signal != nil {
						k := "<nil>"
						if p.KilledBy != nil {
							k = fmt.Sprint(p.KilledBy.PID)
						}
						killed = append(killed, fmt.Sprintf("%s %d %d %s", h, p.PID, *p.Signal, k))
					}
				}
			}
			for k, n := range appN {
				app = append(app, fmt.Sprintf("%s %d", k, n))
			}
			for h, n := range byHost {
				perHost = append(perHost, fmt.Sprintf("%s 2026-12-04 %d", h, n))
			}
			got := func(i int, f func(map[string]any) string) []string {
				var out []string
				for _, r := range res[i] {
					out = append(out, f(r))
				}
				sort.Strings(out)
				return out
			}
			str := func(v any) string {
				if v == nil {
					return "<nil>"
				}
				return fmt.Sprint(v)
			}
			check := func(name string, got, want []string) {
				sort.Strings(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s:\n got %q\nwant %q", name, got, want)
				}
			}
			check("docker", got(0, func(r map[string]any) string {
				var argv []string
				for _, a := range r["argv"].([]any) {
					argv = append(argv, a.(string))
				}
				return fmt.Sprintf("%s %s %q", r["host"], str(r["pid"]), argv)
			}), docker)
			check("app files", got(1, func(r map[string]any) string {
				return fmt.Sprintf("%s %s %s", r["host"], str(r["container"]), str(r["n"]))
			}), app)
			check("per host", got(2, func(r map[string]any) string { return fmt.Sprintf("%s %s %s", r["host"], r["date"], str(r["n"])) }), perHost)
			check("killed", got(3, func(r map[string]any) string {
				return fmt.Sprintf("%s %s %s %s", r["host"], str(r["pid"]), str(r["signal"]), str(r["killed_by_pid"]))
			}), killed)
			if len(docker) == 0 || len(app) == 0 || len(killed) == 0 {
				t.Errorf("the queries' expected answers are empty: docker %d, app %d, killed %d", len(docker), len(app), len(killed))
			}
		})
	}
}
