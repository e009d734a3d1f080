// Package revision packages an application revision directory as a deterministic zip: the same
// content always gives the same bytes, so the SHA-256 of the zip names the revision. The stack
// (at synthesis) and the operator CLI both package through here, so a revision deployed by
// `cdk deploy` and one deployed by hand have the same key.
package revision

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Package is a zipped revision.
type Package struct {
	Zip    []byte
	SHA256 string
}

// Key is the object key of the package under prefix: content-addressed, so a changed revision
// is a new object and an unchanged one is not uploaded again.
func (p Package) Key(prefix string) string { return prefix + p.SHA256 + ".zip" }

// epoch is the modification time of every entry; zip cannot represent times before 1980.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Zip packages dir. Entries are sorted; times, owners and every mode bit but the executable
// one are normalized (0755 or 0644), so only names, contents and executability count. The
// CodeDeploy agent runs hook scripts directly, so the executable bit must survive.
func Zip(dir string) (Package, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: symbolic links are not packaged; copy the file instead", path)
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return Package{}, err
	}
	sort.Strings(files)

	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, path := range files {
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return Package{}, err
		}
		info, err := os.Stat(path)
		if err != nil {
			return Package{}, err
		}
		mode := fs.FileMode(0o644)
		if info.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		header := &zip.FileHeader{Name: filepath.ToSlash(rel), Method: zip.Deflate, Modified: epoch}
		header.SetMode(mode)
		entry, err := w.CreateHeader(header)
		if err != nil {
			return Package{}, err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return Package{}, err
		}
		if _, err := entry.Write(data); err != nil {
			return Package{}, err
		}
	}
	if err := w.Close(); err != nil {
		return Package{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return Package{Zip: buf.Bytes(), SHA256: hex.EncodeToString(sum[:])}, nil
}
