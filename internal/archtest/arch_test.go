package archtest

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/chorusdb/chorus"

// pure lists the deterministic tiers of DESIGN.md: no goroutines, sockets, files, wall
// clock or global randomness, so that internal/sim can replay them from a seed.
var pure = map[string]bool{
	module + "/internal/core":    true,
	module + "/internal/ring":    true,
	module + "/internal/version": true,
	module + "/internal/object":  true,
	module + "/internal/crdt":    true,
	module + "/internal/merkle":  true,
	module + "/internal/record":  true,
	module + "/internal/wire":    true,
}

// forbiddenImports are packages a pure tier may not import directly.
var forbiddenImports = []string{
	"net", "os", "os/exec", "os/signal", "syscall", "time", "math/rand", "io/ioutil",
	"database/sql", "google.golang.org/grpc", "github.com/hashicorp/memberlist",
	"github.com/cockroachdb/pebble", "github.com/jackc/pgx", "github.com/tidwall/redcon",
	"log", "log/slog", "github.com/prometheus/client_golang",
}

// forbiddenCalls are package-level functions a pure tier may not call even through an
// allowed import (e.g. math/rand/v2 types are fine, its global source is not).
var forbiddenCalls = map[string]bool{
	"rand.Int": true, "rand.IntN": true, "rand.Intn": true, "rand.Int64": true, "rand.Uint64": true,
	"rand.Float64": true, "rand.Perm": true, "rand.Shuffle": true, "rand.N": true, "rand.Uint32": true,
}

type listedPackage struct {
	ImportPath string
	Dir        string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestPureTiersImportNoIO(t *testing.T) {
	checked := 0
	for _, p := range listPackages(t) {
		if !pure[p.ImportPath] || len(p.GoFiles) == 0 {
			continue
		}
		checked++
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") && !pure[imp] {
				t.Errorf("%s imports %s, a higher tier", p.ImportPath, imp)
			}
			for _, f := range forbiddenImports {
				if imp == f || strings.HasPrefix(imp, f+"/") {
					t.Errorf("%s imports %s (I/O, clock or global state)", p.ImportPath, imp)
				}
			}
		}
		for _, f := range p.GoFiles {
			checkFile(t, filepath.Join(p.Dir, f))
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d pure packages; is go list finding the module?", checked)
	}
}

// checkFile rejects go statements and calls to global random sources.
func checkFile(t *testing.T, path string) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations(fset, f) {
		t.Error(v)
	}
}

func violations(fset *token.FileSet, f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			out = append(out, fmt.Sprintf("%s: go statement in a pure tier", fset.Position(n.Pos())))
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && forbiddenCalls[id.Name+"."+sel.Sel.Name] {
					out = append(out, fmt.Sprintf("%s: call to global %s.%s in a pure tier", fset.Position(n.Pos()), id.Name, sel.Sel.Name))
				}
			}
		}
		return true
	})
	return out
}

// TestCheckerCatchesViolations makes sure the source checks can fail.
func TestCheckerCatchesViolations(t *testing.T) {
	src := "package x\nfunc f() { go f(); _ = rand.Intn(3) }\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := violations(fset, f); len(v) != 2 {
		t.Fatalf("expected both violations to be detected, got %q", v)
	}
}
