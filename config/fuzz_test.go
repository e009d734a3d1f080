package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the decoder: it must return a config or an error, never
// panic, and never both. Seeds: testdata/*.json plus the corpus `go test -fuzz` keeps in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg, err)
		}
		if err == nil {
			for _, env := range cfg.Environments {
				if env.MinCapacity < 1 || env.MaxCapacity < env.MinCapacity || len(env.AvailabilityZones) == 0 {
					t.Fatalf("accepted an invalid environment: %+v", env)
				}
			}
		}
	})
}
