// Package docs checks the documentation's links: every relative link and anchor in README.md and
// docs/ resolves, so that moving a section never leaves a reader at a dead end. Plain Go.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// link is a Markdown link or image: [text](target) or ![alt](target), target without a title.
var link = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)

// heading is an ATX heading.
var heading = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)

// fence opens or closes a code block, whose content is not Markdown.
var fence = regexp.MustCompile("(?m)^ {0,3}```")

func TestLinksResolve(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	anchors := map[string]map[string]bool{}
	texts := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(f)
		texts[abs] = prose(string(data))
		anchors[abs] = slugs(texts[abs])
	}
	checked := 0
	for file, text := range texts {
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: %s: no such file %s", rel(file), target, rel(dest))
					continue
				}
			}
			if anchor == "" {
				continue
			}
			known, ok := anchors[dest]
			if !ok {
				t.Errorf("%s: %s: an anchor into %s, which is not a Markdown page here", rel(file), target, rel(dest))
				continue
			}
			if !known[anchor] {
				t.Errorf("%s: %s: %s has no heading #%s", rel(file), target, rel(dest), anchor)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d relative links checked: the pattern no longer finds them", checked)
	}
}

// prose is the Markdown without its code blocks and inline code, where a link is only text.
func prose(md string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.SplitAfter(md, "\n") {
		if fence.MatchString(line) {
			in = !in
			continue
		}
		if !in {
			b.WriteString(line)
		}
	}
	return regexp.MustCompile("`[^`\n]*`").ReplaceAllStringFunc(b.String(), func(code string) string {
		return strings.NewReplacer("[", " ", "]", " ", "(", " ", ")", " ").Replace(code)
	})
}

// slugs are the anchors GitHub gives a page's headings: lower case, letters, digits, hyphens and
// underscores kept, spaces made hyphens, everything else dropped, and a repeat numbered (-1, -2).
func slugs(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(text, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		s := b.String()
		if n := seen[s]; n > 0 {
			out[s+"-"+strconv.Itoa(n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	return out
}

func rel(p string) string {
	root, _ := filepath.Abs("../..")
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// TestReadmeIsShort: the README is what a newcomer reads first; the rest lives in docs/.
func TestReadmeIsShort(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n > 300 {
		t.Errorf("README.md has %d lines: keep it to 300, and move the detail to docs/", n)
	}
}
